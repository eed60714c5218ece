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
        if q.isNegative {
            p = -p
            q = -q
        }
        let g = BigInt.gcd(p.magnitude, q)
        if g > 1 {
            p = p / g
            q = q / g
        }
        self.numerator = p
        self.denominator = q
    }

    public init(_ value: Int) { self.init(BigInt(value)) }

    /// The exact value of a finite `Double` (every finite double is a dyadic rational).
    public init?(exactly value: Double) {
        guard value.isFinite else { return nil }
        if value == 0 {
            self.init(BigInt(0))
            return
        }
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

    /// The exact value of a decimal numeral ("0.3", "-12", "1e-05", "2.5E+3").
    public init?(decimal text: String) {
        var body = Substring(text)
        var exponent = 0
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let value = Int(body[body.index(after: e)...]), abs(value) <= 4000 else { return nil }
            exponent = value
            body = body[..<e]
        }
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        var digits = ""
        var fraction = 0
        var seenPoint = false
        for character in body {
            if character == "." {
                if seenPoint { return nil }
                seenPoint = true
            } else if character.isASCII, character.isNumber {
                digits.append(character)
                if seenPoint { fraction += 1 }
            } else {
                return nil
            }
        }
        guard !digits.isEmpty, let mantissa = BigInt(digits) else { return nil }
        let power = exponent - fraction
        let ten = BigInt(10)
        let value = power >= 0 ? ExactRational(mantissa * ten.power(power)) : ExactRational(mantissa, ten.power(-power))
        self = negative ? ExactRational(-value.numerator, value.denominator) : value
    }

    /// The value a person meant by a `Double`: its shortest round-trip decimal ("0.3" for 0.3),
    /// used for caps, which are policy numbers typed by people.
    public init?(intended value: Double) {
        guard value.isFinite else { return nil }
        self.init(decimal: value.description)
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

    /// The nearest Double (for display and floating-point accounting only), correctly rounded
    /// whenever the result is a normal number.
    public var doubleValue: Double {
        if numerator.isZero { return 0 }
        let magnitude = numerator.magnitude
        // A quotient of 63 or 64 bits, with a sticky bit for what the division dropped, rounds
        // once (to nearest even) in the conversion to Double.
        let shift = 63 - (magnitude.bitWidth - denominator.bitWidth)  // quotient in [2^62, 2^64)
        let scaled = shift >= 0 ? magnitude << shift : magnitude >> (-shift)
        let (quotient, remainder) = scaled.floorDivided(by: denominator)
        var word = quotient.uint64Value ?? UInt64.max
        let dropped = !remainder.isZero || (shift < 0 && (magnitude - (scaled << (-shift))).signum != 0)
        if dropped { word |= 1 }
        let result = Double(word) * pow2(-shift)
        return numerator.isNegative ? -result : result
    }

    private func pow2(_ e: Int) -> Double {
        var r = 1.0
        var k = e
        while k > 1000 {
            r *= 0x1p1000
            k -= 1000
        }
        while k < -1000 {
            r *= 0x1p-1000
            k += 1000
        }
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
