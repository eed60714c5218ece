import Arithmetic

/// An exact non-negative-or-negative rational number p/q with q > 0, in lowest terms.
///
/// Used where floating point must not decide: sampler parameters (the noise path) and the
/// comparison of pure-DP spending against a cap.
public struct ExactRational: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let numerator: BigInt
    public let denominator: BigInt

    /// p/q reduced to lowest terms. - Precondition: q ≠ 0.
    public init(_ numerator: BigInt, _ denominator: BigInt = 1) {
        precondition(!denominator.isZero, "zero denominator")
        var p = numerator
        var q = denominator
        if q.isNegative { p = -p; q = -q }
        let g = BigInt.gcd(p.magnitude, q)
        if g > 1 { p = p / g; q = q / g }
        self.numerator = p
        self.denominator = q
    }

    public init(_ value: Int) { self.init(BigInt(value)) }

    /// The exact value of a finite `Double` (every finite double is a dyadic rational).
    public init?(exactly value: Double) {
        guard value.isFinite else { return nil }
        if value == 0 { self.init(BigInt(0)); return }
        let significand = BigInt(value.significandBitPattern | (value.isNormal ? (1 << 52) : 0))
        // value = ±significand · 2^(exponent − 52), with subnormals at exponent −1022.
        let exponent = (value.isNormal ? Int(value.exponent) : -1022) - 52
        let signed = value < 0 ? -significand : significand
        if exponent >= 0 {
            self.init(signed << exponent)
        } else {
            self.init(signed, BigInt.powerOfTwo(-exponent))
        }
    }

    public var isZero: Bool { numerator.isZero }
    public var isNegative: Bool { numerator.isNegative }

    /// ⌊self⌋.
    public var floor: BigInt { numerator.floorDivided(by: denominator).quotient }

    /// ⌈self⌉.
    public var ceiling: BigInt {
        let (q, r) = numerator.floorDivided(by: denominator)
        return r.isZero ? q : q + 1
    }

    /// The nearest Double (for display and floating-point accounting only).
    public var doubleValue: Double {
        // Scale so that the quotient carries 64 significant bits, then divide exactly once.
        let shift = max(0, 64 - (numerator.magnitude.bitWidth - denominator.bitWidth))
        let q = (numerator << shift) / denominator
        var result = q.doubleValue
        result = result * pow2(-shift)
        return result
    }

    private func pow2(_ e: Int) -> Double {
        var r = 1.0
        var k = e
        while k > 1000 { r *= 0x1p1000; k -= 1000 }
        while k < -1000 { r *= 0x1p-1000; k += 1000 }
        return r * Double(sign: .plus, exponent: k, significand: 1)
    }

    public static func + (a: ExactRational, b: ExactRational) -> ExactRational {
        ExactRational(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }
    public static func - (a: ExactRational, b: ExactRational) -> ExactRational {
        ExactRational(a.numerator * b.denominator - b.numerator * a.denominator, a.denominator * b.denominator)
    }
    public static func * (a: ExactRational, b: ExactRational) -> ExactRational {
        ExactRational(a.numerator * b.numerator, a.denominator * b.denominator)
    }
    /// - Precondition: `b` ≠ 0.
    public static func / (a: ExactRational, b: ExactRational) -> ExactRational {
        ExactRational(a.numerator * b.denominator, a.denominator * b.numerator)
    }
    public static func < (a: ExactRational, b: ExactRational) -> Bool {
        a.numerator * b.denominator < b.numerator * a.denominator
    }

    public var description: String { denominator == 1 ? numerator.description : "\(numerator)/\(denominator)" }
}
