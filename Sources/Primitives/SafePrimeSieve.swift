import Arithmetic
import COpenSSL

/// Safe-prime search with a combined sieve: candidates q are sieved so that neither q nor
/// p = 2q + 1 has a prime factor below 2^20, and only the survivors pay for an exponentiation.
///
/// OpenSSL's `BN_generate_prime_ex2(…, safe: 1, …)` trial-divides by 128 primes at 1024 bits and
/// then runs a Miller–Rabin round per candidate, so most of its time goes to exponentiations of
/// candidates that a deeper sieve would have thrown away. Sieving both numbers by the 82,024 odd
/// primes below 2^20 leaves about a seventh as many candidates (the survival rate of a pair falls
/// as 1/ln(B)²: (ln 719 / ln 2^20)² ≈ 0.14).
///
/// Each survivor is tested in order:
/// 1. a Fermat test of p to base 2 (constant-time exponentiation: p is the secret being made);
///    nearly every composite p fails here;
/// 2. OpenSSL's `BN_check_prime` on q and on p (Miller–Rabin with the rounds OpenSSL chooses for a
///    2^-128 error at these sizes).
///
/// The search starts at a random q of `bits − 1` bits with its top two bits set (drawn from
/// OpenSSL's private CSPRNG, `BN_priv_rand_ex`) and walks q, q + 2, q + 4, … through a window of
/// 2^17 candidates, drawing a fresh start when the window is exhausted. Like every incremental
/// search (OpenSSL's included) this favours primes after long gaps slightly; that is the usual,
/// accepted trade for speed and does not help factoring n.
enum SafePrimeSieve {
    /// Candidates per window (q = start + 2k, 0 ≤ k < window).
    static let window = 1 << 17
    /// The odd primes below 2^20.
    static let smallPrimes: [UInt32] = {
        let limit = 1 << 20
        var composite = [Bool](repeating: false, count: limit)
        var primes: [UInt32] = []
        for value in 3..<limit where value % 2 == 1 && !composite[value] {
            primes.append(UInt32(value))
            var multiple = value * value
            while multiple < limit {
                composite[multiple] = true
                multiple += 2 * value
            }
        }
        return primes
    }()

    /// A safe prime p of exactly `bits` bits (top two bits set), p = 2q + 1 with q prime.
    /// - Precondition: `bits` ≥ 64 (smaller sizes would let the sieve primes reach q itself, and
    ///   the window would change q's size).
    static func search(bits: Int) throws -> BigInt {
        precondition(bits >= 64, "the combined sieve needs at least 64-bit safe primes")
        guard let context = BN_CTX_secure_new() else { throw PrimitivesError.openSSL(operation: "BN_CTX_secure_new") }
        defer { BN_CTX_free(context) }
        guard let start = BN_secure_new(), let q = BN_secure_new(), let p = BN_secure_new(),
            let pMinusOne = BN_secure_new(), let fermat = BN_secure_new(), let two = BN_new()
        else { throw PrimitivesError.openSSL(operation: "BN_secure_new") }
        defer { for value in [start, q, p, pMinusOne, fermat, two] { BN_clear_free(value) } }
        guard BN_set_word(two, 2) == 1 else { throw PrimitivesError.openSSL(operation: "BN_set_word") }
        BN_set_flags(pMinusOne, BN_FLG_CONSTTIME)

        var sieve = [Bool](repeating: false, count: window)
        while true {
            guard BN_priv_rand_ex(start, Int32(bits - 1), BN_RAND_TOP_TWO, BN_RAND_BOTTOM_ODD, 0, context) == 1 else {
                throw PrimitivesError.openSSL(operation: "BN_priv_rand_ex")
            }
            mark(&sieve, start: start)
            for offset in 0..<window where !sieve[offset] {
                // q = start + 2·offset, p = 2q + 1, p − 1 = 2q.
                guard BN_copy(q, start) != nil, BN_add_word(q, UInt(2 * offset)) == 1,
                    BN_lshift1(pMinusOne, q) == 1, BN_copy(p, pMinusOne) != nil, BN_add_word(p, 1) == 1,
                    BN_mod_exp_mont_consttime(fermat, two, pMinusOne, p, context, nil) == 1
                else { throw PrimitivesError.openSSL(operation: "safe-prime candidate test") }
                guard BN_is_one(fermat) == 1 else { continue }
                guard BN_check_prime(q, context, nil) == 1, BN_check_prime(p, context, nil) == 1 else { continue }
                var prime = SecretExponentiation.bigInt(p)
                prime.markSecret()
                return prime
            }
        }
    }

    /// Marks every offset k for which start + 2k or 2(start + 2k) + 1 has a small prime factor.
    static func mark(_ sieve: inout [Bool], start: OpaquePointer) {
        sieve.withUnsafeMutableBufferPointer { marks in
            marks.update(repeating: false)
            for prime in smallPrimes {
                let modulus = UInt64(prime)
                let residue = UInt64(BN_mod_word(start, UInt(prime)))
                let halfInverse = (modulus + 1) / 2  // 2⁻¹ mod prime
                let quarterInverse = halfInverse * halfInverse % modulus  // 4⁻¹ mod prime
                // prime | start + 2k  ⇔  k ≡ −start · 2⁻¹;  prime | 2·start + 4k + 1  ⇔  k ≡ −(2·start + 1) · 4⁻¹.
                let first = (modulus - residue) % modulus * halfInverse % modulus
                let second = (modulus - (2 * residue + 1) % modulus) % modulus * quarterInverse % modulus
                var offset = Int(first)
                while offset < marks.count {
                    marks[offset] = true
                    offset += Int(prime)
                }
                offset = Int(second)
                while offset < marks.count {
                    marks[offset] = true
                    offset += Int(prime)
                }
            }
        }
    }
}
