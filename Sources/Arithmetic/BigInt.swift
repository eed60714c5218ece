import CGMP

/// An arbitrary-precision signed integer backed by GMP.
///
/// `BigInt` is a value type with copy-on-write storage: copies are cheap, and a value is only
/// duplicated when a shared copy is mutated.
///
/// Most operations run in time that depends on their operands. Operations meant for secret
/// values say so: `power(_:modulus:)` with ``BigInt/powerSecret(_:modulus:)`` uses GMP's
/// constant-time `mpz_powm_sec`.
public struct BigInt: Sendable {
    var storage: MPZStorage

    init(storage: MPZStorage) {
        self.storage = storage
    }

    /// Zero.
    public init() {
        storage = MPZStorage()
    }

    /// The value of a machine integer.
    public init(_ value: Int) {
        storage = MPZStorage()
        __gmpz_set_si(storage.pointer, value)
    }

    /// The value of an unsigned 64-bit integer.
    public init(_ value: UInt64) {
        storage = MPZStorage()
        __gmpz_set_ui(storage.pointer, UInt(value))
    }

    /// The value of any binary integer.
    public init<T: BinaryInteger>(_ value: T) {
        if let small = Int(exactly: value) {
            self.init(small)
        } else if let unsigned = UInt64(exactly: value) {
            self.init(unsigned)
        } else {
            // Wider than 64 bits: build from 64-bit words, most significant first.
            var magnitude = value.magnitude
            var words: [UInt64] = []
            while magnitude != 0 {
                words.append(UInt64(truncatingIfNeeded: magnitude))
                magnitude >>= 64
            }
            var result = BigInt()
            for word in words.reversed() {
                result = (result << 64) + BigInt(word)
            }
            self = value < 0 ? -result : result
        }
    }

    /// The integer part of a finite `Double` (truncated towards zero), or `nil` when it is not finite.
    public init?(truncating value: Double) {
        guard value.isFinite else { return nil }
        storage = MPZStorage()
        __gmpz_set_d(storage.pointer, value)
    }

    // MARK: Copy on write

    /// Storage that this value alone owns, copied first when it is shared.
    var uniqueStorage: MPZStorage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) {
                storage = MPZStorage(copying: storage)
            }
            return storage
        }
    }

    /// A fresh result computed by `body` into new storage.
    @inline(__always)
    static func make(_ body: (UnsafeMutablePointer<__mpz_struct>) -> Void) -> BigInt {
        let result = MPZStorage()
        body(result.pointer)
        return BigInt(storage: result)
    }

    /// Marks this value as secret: its limbs are wiped when its storage is freed.
    public mutating func markSecret() {
        uniqueStorage.isSecret = true
    }

    /// Overwrites the value with zero and wipes its limbs now.
    public mutating func wipe() {
        let owned = uniqueStorage
        fs_mpz_wipe(owned.pointer)
    }

    // MARK: Properties

    /// -1, 0 or 1 according to the sign.
    public var signum: Int { Int(fs_mpz_sgn(storage.pointer)) }

    public var isZero: Bool { signum == 0 }
    public var isNegative: Bool { signum < 0 }
    public var isOdd: Bool { fs_mpz_odd_p(storage.pointer) != 0 }

    /// The number of bits of the magnitude (0 for zero).
    public var bitWidth: Int {
        isZero ? 0 : Int(__gmpz_sizeinbase(storage.pointer, 2))
    }

    /// The magnitude.
    public var magnitude: BigInt {
        BigInt.make { __gmpz_abs($0, storage.pointer) }
    }

    /// Bit `index` of the two's-complement representation.
    public func bit(_ index: Int) -> Bool {
        __gmpz_tstbit(storage.pointer, UInt(index)) != 0
    }

    /// The value as an `Int`, or `nil` if it does not fit.
    public var intValue: Int? {
        guard __gmpz_fits_slong_p(storage.pointer) != 0 else { return nil }
        return __gmpz_get_si(storage.pointer)
    }

    /// The value as a `UInt64`, or `nil` if it is negative or does not fit.
    public var uint64Value: UInt64? {
        guard signum >= 0, __gmpz_fits_ulong_p(storage.pointer) != 0 else { return nil }
        return UInt64(__gmpz_get_ui(storage.pointer))
    }

    /// The low 64 bits of the magnitude.
    public var lowWord: UInt64 {
        UInt64(__gmpz_getlimbn(storage.pointer, 0))
    }

    /// The nearest `Double` (truncated), infinite beyond `Double`'s range.
    public var doubleValue: Double {
        if bitWidth > 1023 { return isNegative ? -.infinity : .infinity }
        return __gmpz_get_d(storage.pointer)
    }
}

// MARK: - Equality and order

extension BigInt: Equatable, Comparable, Hashable {
    public static func == (lhs: BigInt, rhs: BigInt) -> Bool {
        __gmpz_cmp(lhs.storage.pointer, rhs.storage.pointer) == 0
    }

    public static func < (lhs: BigInt, rhs: BigInt) -> Bool {
        __gmpz_cmp(lhs.storage.pointer, rhs.storage.pointer) < 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(signum)
        hasher.combine(magnitudeBytes())
    }

    /// Compares with a machine integer without allocating.
    public func compare(_ other: Int) -> Int {
        Int(__gmpz_cmp_si(storage.pointer, other).signum())
    }
}

extension BigInt: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) {
        self.init(value)
    }
}
