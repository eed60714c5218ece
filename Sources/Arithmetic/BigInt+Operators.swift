import CGMP

// MARK: - Ring operations

extension BigInt {
    public static func + (lhs: BigInt, rhs: BigInt) -> BigInt {
        make { __gmpz_add($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    public static func - (lhs: BigInt, rhs: BigInt) -> BigInt {
        make { __gmpz_sub($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    public static func * (lhs: BigInt, rhs: BigInt) -> BigInt {
        make { __gmpz_mul($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    public static prefix func - (value: BigInt) -> BigInt {
        make { __gmpz_neg($0, value.storage.pointer) }
    }

    /// The quotient truncated towards zero, as Swift's integers do.
    /// - Precondition: `rhs` is not zero.
    public static func / (lhs: BigInt, rhs: BigInt) -> BigInt {
        precondition(!rhs.isZero, "BigInt division by zero")
        return make { __gmpz_tdiv_q($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The remainder of truncated division (the sign of `lhs`), as Swift's integers do.
    /// - Precondition: `rhs` is not zero.
    public static func % (lhs: BigInt, rhs: BigInt) -> BigInt {
        precondition(!rhs.isZero, "BigInt division by zero")
        return make { __gmpz_tdiv_r($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    public static func += (lhs: inout BigInt, rhs: BigInt) {
        let target = lhs.uniqueStorage
        __gmpz_add(target.pointer, target.pointer, rhs.storage.pointer)
    }

    public static func -= (lhs: inout BigInt, rhs: BigInt) {
        let target = lhs.uniqueStorage
        __gmpz_sub(target.pointer, target.pointer, rhs.storage.pointer)
    }

    public static func *= (lhs: inout BigInt, rhs: BigInt) {
        let target = lhs.uniqueStorage
        __gmpz_mul(target.pointer, target.pointer, rhs.storage.pointer)
    }

    /// Multiplies by 2^`shift` (a negative shift divides, rounding towards negative infinity).
    public static func << (lhs: BigInt, shift: Int) -> BigInt {
        if shift < 0 { return lhs >> -shift }
        return make { __gmpz_mul_2exp($0, lhs.storage.pointer, UInt(shift)) }
    }

    /// Divides by 2^`shift`, rounding towards negative infinity (an arithmetic shift).
    public static func >> (lhs: BigInt, shift: Int) -> BigInt {
        if shift < 0 { return lhs << -shift }
        return make { __gmpz_fdiv_q_2exp($0, lhs.storage.pointer, UInt(shift)) }
    }

    /// The bitwise AND of the two's-complement representations.
    public static func & (lhs: BigInt, rhs: BigInt) -> BigInt {
        make { __gmpz_and($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The bitwise OR of the two's-complement representations.
    public static func | (lhs: BigInt, rhs: BigInt) -> BigInt {
        make { __gmpz_ior($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The low `bits` bits of a non-negative value (the value mod 2^bits).
    public func truncated(toBits bits: Int) -> BigInt {
        BigInt.make { __gmpz_fdiv_r_2exp($0, storage.pointer, UInt(bits)) }
    }

    /// 2^`exponent`.
    public static func powerOfTwo(_ exponent: Int) -> BigInt {
        make { __gmpz_setbit($0, UInt(exponent)) }
    }

    /// `self` raised to a small power.
    public func power(_ exponent: Int) -> BigInt {
        precondition(exponent >= 0, "negative exponent")
        return BigInt.make { __gmpz_pow_ui($0, storage.pointer, UInt(exponent)) }
    }
}

// MARK: - Number theory

extension BigInt {
    /// The least non-negative residue of `self` modulo `modulus`.
    /// - Precondition: `modulus` is positive.
    public func modulo(_ modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0, "modulus must be positive")
        return BigInt.make { __gmpz_mod($0, storage.pointer, modulus.storage.pointer) }
    }

    /// The quotient and remainder of floor division by a positive divisor.
    public func floorDivided(by divisor: BigInt) -> (quotient: BigInt, remainder: BigInt) {
        precondition(divisor.signum > 0, "divisor must be positive")
        let quotient = MPZStorage()
        let remainder = MPZStorage()
        __gmpz_fdiv_qr(quotient.pointer, remainder.pointer, storage.pointer, divisor.storage.pointer)
        return (BigInt(storage: quotient), BigInt(storage: remainder))
    }

    /// `self` × `other` mod `modulus`.
    public func multiplied(by other: BigInt, modulo modulus: BigInt) -> BigInt {
        BigInt.make { result in
            __gmpz_mul(result, storage.pointer, other.storage.pointer)
            __gmpz_mod(result, result, modulus.storage.pointer)
        }
    }

    /// Multiplies in place by `other` and reduces modulo `modulus`.
    public mutating func multiply(by other: BigInt, modulo modulus: BigInt) {
        let target = uniqueStorage
        __gmpz_mul(target.pointer, target.pointer, other.storage.pointer)
        __gmpz_mod(target.pointer, target.pointer, modulus.storage.pointer)
    }

    /// `self`^`exponent` mod `modulus` for a **public** exponent.
    ///
    /// - Warning: Variable time. The running time depends on the exponent and the base; never
    ///   use it with a secret exponent (use ``powerSecret(_:modulus:)``).
    /// - Precondition: `modulus` is positive and `exponent` is non-negative (or `self` is
    ///   invertible modulo `modulus`).
    public func power(_ exponent: BigInt, modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0, "modulus must be positive")
        return BigInt.make {
            __gmpz_powm($0, storage.pointer, exponent.storage.pointer, modulus.storage.pointer)
        }
    }

    /// `self`^`exponent` mod `modulus` in time independent of the exponent's and the base's
    /// values (GMP's `mpz_powm_sec`), for secret exponents.
    ///
    /// - Precondition: `modulus` is odd and positive, `exponent` is positive.
    public func powerSecret(_ exponent: BigInt, modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0 && modulus.isOdd, "constant-time exponentiation needs an odd modulus")
        precondition(exponent.signum > 0, "constant-time exponentiation needs a positive exponent")
        // mpz_powm_sec wants a reduced base.
        let base = self.signum < 0 || self >= modulus ? self.modulo(modulus) : self
        return BigInt.make {
            __gmpz_powm_sec($0, base.storage.pointer, exponent.storage.pointer, modulus.storage.pointer)
        }
    }

    /// The inverse of `self` modulo `modulus`, or `nil` when none exists.
    public func inverse(modulo modulus: BigInt) -> BigInt? {
        let result = MPZStorage()
        guard __gmpz_invert(result.pointer, storage.pointer, modulus.storage.pointer) != 0 else { return nil }
        return BigInt(storage: result)
    }

    /// The greatest common divisor (non-negative).
    public static func gcd(_ a: BigInt, _ b: BigInt) -> BigInt {
        make { __gmpz_gcd($0, a.storage.pointer, b.storage.pointer) }
    }

    /// The least common multiple (non-negative).
    public static func lcm(_ a: BigInt, _ b: BigInt) -> BigInt {
        make { __gmpz_lcm($0, a.storage.pointer, b.storage.pointer) }
    }

    /// n! for a small n.
    public static func factorial(_ n: Int) -> BigInt {
        precondition(n >= 0, "factorial of a negative number")
        return make { __gmpz_fac_ui($0, UInt(n)) }
    }

    /// The integer square root (floor) of a non-negative value.
    public var squareRoot: BigInt {
        precondition(signum >= 0, "square root of a negative number")
        return BigInt.make { __gmpz_sqrt($0, storage.pointer) }
    }

    /// Whether the value is probably prime: Baillie–PSW plus `rounds` Miller–Rabin rounds
    /// (GMP's `mpz_probab_prime_p`). The error probability is below 4^-rounds.
    ///
    /// - Warning: Variable time; use it on candidates, not on primes that are already secret
    ///   parts of a key in use.
    public func isProbablePrime(rounds: Int = 40) -> Bool {
        __gmpz_probab_prime_p(storage.pointer, Int32(rounds)) > 0
    }
}
