import Arithmetic

/// python-paillier's number encoding, for `fedshare paillier` interoperability only.
///
/// A number x is carried as an integer mantissa and a base-16 exponent e with x = mantissa · 16^e;
/// the mantissa is stored mod n, with values ≤ n/3 − 1 positive, values ≥ n − (n/3 − 1) negative
/// and the band between them reported as overflow. (fedshare's own protocol uses one public
/// scale for all values instead: see `FixedPointCodec`.)
public struct PheEncodedNumber: Sendable, Equatable {
    public static let base = 16
    public static let log2Base = 4
    /// pheutil fixes ciphertext exponents at −32 where possible.
    public static let pheutilExponent = -32

    /// The mantissa as a residue mod n.
    public let encoding: BigInt
    public let exponent: Int

    public init(encoding: BigInt, exponent: Int) {
        self.encoding = encoding
        self.exponent = exponent
    }

    /// n/3 − 1: the largest magnitude that encodes without ambiguity.
    public static func maxInt(for key: PaillierPublicKey) -> BigInt { key.n / 3 - 1 }

    /// The exponent python-paillier picks for a float: the one that keeps all 53 bits,
    /// floor((frexp(x).exponent − 53) / 4).
    public static func precisionExponent(of value: Double) -> Int {
        let binaryExponent = value == 0 ? 0 : Int(value.exponent) + 1  // frexp's exponent
        let lsb = binaryExponent - 53
        return Int((Double(lsb) / Double(log2Base)).rounded(.down))
    }

    /// Encodes a finite double at `exponent` or, when nil, at python-paillier's precision
    /// exponent capped by `maxExponent`.
    public static func encode(_ value: Double, key: PaillierPublicKey, exponent: Int? = nil, maxExponent: Int? = nil) throws -> PheEncodedNumber {
        guard value.isFinite else { throw PaillierError.plaintextOutOfRange("\(value) is not a finite number") }
        var chosen = exponent ?? precisionExponent(of: value)
        if exponent == nil, let maxExponent { chosen = min(chosen, maxExponent) }
        let mantissa = try exactScaledInteger(value, base16Exponent: -chosen)
        guard mantissa.magnitude <= maxInt(for: key) else {
            throw PaillierError.plaintextOutOfRange("\(value) needs a mantissa beyond n/3 at exponent \(chosen)")
        }
        return PheEncodedNumber(encoding: mantissa.modulo(key.n), exponent: chosen)
    }

    /// round(value · 16^k) computed exactly (ties to even, like Python's `round` on a Fraction).
    static func exactScaledInteger(_ value: Double, base16Exponent k: Int) throws -> BigInt {
        if value == 0 { return BigInt() }
        // value = significand · 2^(exponent − 52), significand an integer.
        let significand = BigInt(value.significandBitPattern | (value.isNormal ? 1 << 52 : 0))
        let binaryExponent = Int(value.exponent) - 52 + 4 * k
        let signed = value < 0 ? -significand : significand
        if binaryExponent >= 0 { return signed << binaryExponent }
        // Divide by 2^−binaryExponent with round-half-even.
        let shift = -binaryExponent
        let magnitude = significand
        let quotient = magnitude >> shift
        let remainder = magnitude - (quotient << shift)
        let half = BigInt.powerOfTwo(shift - 1)
        var rounded = quotient
        if remainder > half || (remainder == half && quotient.isOdd) { rounded += 1 }
        return value < 0 ? -rounded : rounded
    }

    /// The signed mantissa, or an overflow error in the ambiguous band.
    public func mantissa(key: PaillierPublicKey) throws -> BigInt {
        let maxInt = PheEncodedNumber.maxInt(for: key)
        guard encoding.signum >= 0, encoding < key.n else {
            throw PaillierError.overflow("decrypted encoding is not below n: corrupted number")
        }
        if encoding <= maxInt { return encoding }
        if encoding >= key.n - maxInt { return encoding - key.n }
        throw PaillierError.overflow("decrypted value lies in the overflow band (n/3, 2n/3): wrong key, or the computation overflowed")
    }

    /// The value as python-paillier prints it: an integer for exponent ≥ 0, otherwise the
    /// correctly rounded double mantissa / 16^−e.
    public func decodedText(key: PaillierPublicKey) throws -> String {
        let mantissa = try mantissa(key: key)
        if exponent >= 0 { return (mantissa << (PheEncodedNumber.log2Base * exponent)).description }
        return PheEncodedNumber.pythonRepr(PheEncodedNumber.roundedQuotient(mantissa, twoPower: -PheEncodedNumber.log2Base * exponent))
    }

    /// The decoded value as a double.
    public func decoded(key: PaillierPublicKey) throws -> Double {
        let mantissa = try mantissa(key: key)
        if exponent >= 0 { return (mantissa << (PheEncodedNumber.log2Base * exponent)).doubleValue }
        return PheEncodedNumber.roundedQuotient(mantissa, twoPower: -PheEncodedNumber.log2Base * exponent)
    }

    /// mantissa / 2^shift rounded once, to nearest (as Python's int / int true division).
    static func roundedQuotient(_ mantissa: BigInt, twoPower shift: Int) -> Double {
        let magnitude = mantissa.magnitude
        let width = magnitude.bitWidth
        guard width > 0 else { return 0 }
        // Keep the top 64 bits and fold the rest into a sticky bit, then let UInt64 → Double
        // round to nearest even; scaling by a power of two is exact.
        var top: UInt64
        var scale = -shift
        if width > 64 {
            let dropped = width - 64
            top = (magnitude >> dropped).lowWord
            if !magnitude.truncated(toBits: dropped).isZero { top |= 1 }
            scale += dropped
        } else {
            top = magnitude.lowWord
        }
        let result = Double(top) * Double(sign: .plus, exponent: scale, significand: 1)
        return mantissa.isNegative ? -result : result
    }

    /// Python's `repr` of a float (shortest round-trip; exponent form below 1e−4 or from 1e16).
    static func pythonRepr(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e16) {
            // Swift writes 1e-05 / 1e+16 as Python does.
            return value.description
        }
        let text = value.description
        if text.contains("e") {
            // Swift uses exponent form for some values Python writes positionally.
            return positional(value)
        }
        return text
    }

    private static func positional(_ value: Double) -> String {
        let text = value.description
        guard let eIndex = text.firstIndex(where: { $0 == "e" }) else { return text }
        let mantissaPart = String(text[..<eIndex])
        let exponent = Int(text[text.index(after: eIndex)...]) ?? 0
        let negative = mantissaPart.hasPrefix("-")
        let digitsText = mantissaPart.replacingOccurrences(of: "-", with: "")
        let parts = digitsText.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fraction
        var point = integerPart.count + exponent
        if point <= 0 {
            digits = String(repeating: "0", count: 1 - point) + digits
            point = 1
        }
        if point >= digits.count {
            digits += String(repeating: "0", count: point - digits.count)
            return (negative ? "-" : "") + digits + ".0"
        }
        let whole = digits.prefix(point)
        var frac = String(digits.dropFirst(point))
        while frac.hasSuffix("0") && frac.count > 1 { frac.removeLast() }
        return (negative ? "-" : "") + whole + "." + frac
    }
}

/// A ciphertext with its base-16 exponent, as python-paillier's `EncryptedNumber` carries one,
/// with pheutil's arithmetic on it.
public struct PheEncryptedNumber: Sendable {
    public var ciphertext: PaillierCiphertext
    public var exponent: Int

    public init(ciphertext: PaillierCiphertext, exponent: Int) {
        self.ciphertext = ciphertext
        self.exponent = exponent
    }

    /// Encrypts `value` at exponent min(−32, its precision exponent), as pheutil does.
    public static func encrypt(_ value: Double, key: PaillierPublicKey, using generator: inout some RandomNumberGenerator) throws -> PheEncryptedNumber {
        let exponent = min(PheEncodedNumber.pheutilExponent, PheEncodedNumber.precisionExponent(of: value))
        let encoded = try PheEncodedNumber.encode(value, key: key, exponent: exponent)
        return PheEncryptedNumber(ciphertext: try key.encrypt(encoded.encoding, using: &generator), exponent: exponent)
    }

    /// The same value at a lower exponent: the plaintext is multiplied by 16^(old − new).
    public func loweringExponent(to newExponent: Int, key: PaillierPublicKey) -> PheEncryptedNumber {
        guard newExponent < exponent else { return self }
        let factor = BigInt.powerOfTwo(PheEncodedNumber.log2Base * (exponent - newExponent))
        return PheEncryptedNumber(ciphertext: key.multiply(ciphertext, by: factor), exponent: newExponent)
    }

    /// E(a + b) at the lower of the two exponents.
    public func adding(_ other: PheEncryptedNumber, key: PaillierPublicKey) -> PheEncryptedNumber {
        let exponent = min(self.exponent, other.exponent)
        let a = loweringExponent(to: exponent, key: key)
        let b = other.loweringExponent(to: exponent, key: key)
        return PheEncryptedNumber(ciphertext: key.add(a.ciphertext, b.ciphertext), exponent: exponent)
    }

    /// E(a + x) for a plaintext x, encoded at an exponent no higher than this number's.
    public func adding(_ value: Double, key: PaillierPublicKey) throws -> PheEncryptedNumber {
        let encoded = try PheEncodedNumber.encode(value, key: key, maxExponent: exponent)
        let a = loweringExponent(to: encoded.exponent, key: key)
        return PheEncryptedNumber(ciphertext: key.add(a.ciphertext, plaintext: encoded.encoding), exponent: encoded.exponent)
    }

    /// E(a · x) for a plaintext x; the exponents add.
    public func multiplied(by value: Double, key: PaillierPublicKey) throws -> PheEncryptedNumber {
        let encoded = try PheEncodedNumber.encode(value, key: key)
        let scalar = try encoded.mantissa(key: key)
        return PheEncryptedNumber(ciphertext: key.multiply(ciphertext, by: scalar), exponent: exponent + encoded.exponent)
    }

    /// pheutil's output form: exponent lowered to −32 where possible, then re-randomised.
    public func serialised(key: PaillierPublicKey, using generator: inout some RandomNumberGenerator) -> PheutilCiphertextJSON {
        let lowered = loweringExponent(to: PheEncodedNumber.pheutilExponent, key: key)
        return PheutilCiphertextJSON(ciphertext: key.rerandomise(lowered.ciphertext, using: &generator), exponent: lowered.exponent, key: key)
    }

    /// Decrypts and decodes as python-paillier prints the value.
    public func decryptedText(with key: PaillierPrivateKey) throws -> String {
        try PheEncodedNumber(encoding: key.decrypt(ciphertext), exponent: exponent).decodedText(key: key.publicKey)
    }
}
