/// Encodes signed reals as integers at one public scale 2^-`fractionalBits`, shared by every
/// value of a computation and by both aggregation modes (Paillier and secure aggregation), so
/// that both produce the same integers for the same inputs.
///
/// There is no per-value exponent (python-paillier's `EncodedNumber` has one, which leaks each
/// value's magnitude). Negative values are carried by modular wrap in the ring the caller works
/// in (Z_n for Paillier, Z_2^64 for secure aggregation); `decode` maps residues above half the
/// ring back to negatives and reports values outside the declared bound as overflow.
public struct FixedPointCodec: Sendable, Hashable, Codable {
    /// The number of fractional bits f: a real x is encoded as round(x · 2^f).
    public let fractionalBits: Int

    /// Failures of encoding and decoding.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case notFinite(Double)
        case outOfRange(value: Double, limit: Double)
        case overflow(residue: String)

        public var description: String {
            switch self {
            case .notFinite(let value): return "cannot encode \(value): not a finite number"
            case .outOfRange(let value, let limit): return "cannot encode \(value): its magnitude exceeds \(limit) at this scale"
            case .overflow(let residue): return "decoded value \(residue) is outside the declared range: the sum overflowed"
            }
        }
    }

    /// - Parameter fractionalBits: 0...52 (a Double's mantissa bounds the useful precision).
    public init(fractionalBits: Int) {
        precondition((0...52).contains(fractionalBits), "fractional bits must be in 0...52")
        self.fractionalBits = fractionalBits
    }

    /// The step between representable values, 2^-f.
    public var step: Double { 1.0 / Double(sign: .plus, exponent: fractionalBits, significand: 1) }

    /// The scale 2^f.
    public var scale: Double { Double(sign: .plus, exponent: fractionalBits, significand: 1) }

    /// round(x · 2^f) as a signed 64-bit integer (ties to even).
    public func encode(_ value: Double) throws -> Int64 {
        guard value.isFinite else { throw Failure.notFinite(value) }
        let scaled = (value * scale).rounded(.toNearestOrEven)
        // 2^63 is exactly representable; anything at or beyond it does not fit.
        guard abs(scaled) < 9_223_372_036_854_775_808.0 else {
            throw Failure.outOfRange(value: value, limit: 9_223_372_036_854_775_808.0 / scale)
        }
        return Int64(scaled)
    }

    /// The real number an encoded integer stands for.
    public func decode(_ encoded: Int64) -> Double {
        Double(encoded) / scale
    }

    /// The encoding as an element of Z_2^64 (two's complement), for secure aggregation.
    public func encodeToRing64(_ value: Double) throws -> UInt64 {
        UInt64(bitPattern: try encode(value))
    }

    /// Decodes an element of Z_2^64 as a signed value.
    public func decodeFromRing64(_ residue: UInt64) -> Double {
        decode(Int64(bitPattern: residue))
    }

    /// The encoding as a residue modulo `modulus` (negatives wrap to modulus − |x|).
    public func encode(_ value: Double, modulo modulus: BigInt) throws -> BigInt {
        BigInt(try encode(value)).modulo(modulus)
    }

    /// Decodes a residue modulo `modulus` whose true value is known to satisfy |x| ≤ `bound`
    /// (in encoded units): residues above modulus/2 are negative; anything with magnitude
    /// beyond `bound` means the computation overflowed and is reported, never returned.
    public func decodeSigned(_ residue: BigInt, modulo modulus: BigInt, bound: BigInt) throws -> Int64 {
        let half = modulus >> 1
        let signed = residue > half ? residue - modulus : residue
        guard signed.magnitude <= bound, let value = signed.intValue else {
            throw Failure.overflow(residue: signed.description)
        }
        return Int64(value)
    }
}
