import CGMP

// MARK: - Text

extension BigInt: CustomStringConvertible, LosslessStringConvertible {
    /// The decimal representation.
    public var description: String { toString(radix: 10) }

    /// Parses a decimal integer with an optional leading `-`.
    public init?(_ description: String) {
        self.init(description, radix: 10)
    }

    /// Parses an integer written in `radix` (2...36) with an optional leading `-`; `nil` when
    /// the text is empty or contains anything else (GMP's own parser would skip whitespace).
    public init?(_ text: String, radix: Int) {
        precondition((2...36).contains(radix), "radix must be in 2...36")
        var digits = Substring(text)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty,
            digits.allSatisfy({ $0.isASCII && ($0.hexDigitValue ?? $0.asciiLetterValue).map { $0 < radix } == true })
        else { return nil }
        storage = MPZStorage()
        let parsed = text.withCString { __gmpz_set_str(storage.pointer, $0, Int32(radix)) }
        guard parsed == 0 else { return nil }
    }

    /// The representation in `radix` (2...36), lower-case digits.
    public func toString(radix: Int = 10) -> String {
        precondition((2...36).contains(radix), "radix must be in 2...36")
        let capacity = __gmpz_sizeinbase(storage.pointer, Int32(radix)) + 2
        var buffer = [CChar](repeating: 0, count: capacity)
        buffer.withUnsafeMutableBufferPointer { _ = __gmpz_get_str($0.baseAddress, Int32(radix), storage.pointer) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Character {
    /// 10...35 for ASCII letters, used when parsing digits beyond 9 in radices above 16.
    fileprivate var asciiLetterValue: Int? {
        guard let ascii = asciiValue else { return nil }
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(ascii - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(ascii - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}

// MARK: - Bytes

extension BigInt {
    /// A non-negative value from its big-endian magnitude.
    public init<Bytes: Collection>(bigEndian bytes: Bytes) where Bytes.Element == UInt8 {
        storage = MPZStorage()
        let array = Array(bytes)
        guard !array.isEmpty else { return }
        array.withUnsafeBytes { raw in
            __gmpz_import(storage.pointer, raw.count, 1, 1, 1, 0, raw.baseAddress)
        }
    }

    /// The big-endian magnitude, with no leading zero bytes (empty for zero).
    public func magnitudeBytes() -> [UInt8] {
        let count = (bitWidth + 7) / 8
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        var written = 0
        bytes.withUnsafeMutableBytes { raw in
            _ = __gmpz_export(raw.baseAddress, &written, 1, 1, 1, 0, storage.pointer)
        }
        return bytes
    }

    /// The big-endian magnitude left-padded with zeros to exactly `length` bytes, or `nil`
    /// when the value does not fit.
    public func bigEndianBytes(length: Int) -> [UInt8]? {
        let bytes = magnitudeBytes()
        guard bytes.count <= length else { return nil }
        return [UInt8](repeating: 0, count: length - bytes.count) + bytes
    }

    /// A non-negative value from unpadded base64url (RFC 4648 §5) of its big-endian magnitude,
    /// as JOSE/JWK and python-paillier write key material. Padding `=` is accepted.
    public init?(base64URL text: String) {
        guard let bytes = Base64URL.decode(text) else { return nil }
        self.init(bigEndian: bytes)
    }

    /// Unpadded base64url of the big-endian magnitude.
    public var base64URL: String {
        Base64URL.encode(magnitudeBytes())
    }
}

/// Base64url without padding (RFC 4648 §5).
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in stride(from: 18, through: 0, by: -6) { out.append(alphabet[Int((chunk >> UInt32(shift)) & 63)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let chunk = UInt32(bytes[index]) << 16
            out.append(alphabet[Int((chunk >> 18) & 63)])
            out.append(alphabet[Int((chunk >> 12) & 63)])
        } else if rest == 2 {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int((chunk >> 18) & 63)])
            out.append(alphabet[Int((chunk >> 12) & 63)])
            out.append(alphabet[Int((chunk >> 6) & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64url (also accepting the standard alphabet's `+` and `/`, and `=` padding);
    /// `nil` on any other character or an impossible length.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt32] = []
        values.reserveCapacity(text.utf8.count)
        var sawPadding = false
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                sawPadding = true
                continue
            default: return nil
            }
            if sawPadding { return nil }
            values.append(value)
        }
        if values.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index + 4 <= values.count {
            let chunk = values[index] << 18 | values[index + 1] << 12 | values[index + 2] << 6 | values[index + 3]
            out.append(UInt8(chunk >> 16 & 0xFF))
            out.append(UInt8(chunk >> 8 & 0xFF))
            out.append(UInt8(chunk & 0xFF))
            index += 4
        }
        let rest = values.count - index
        if rest == 2 {
            let chunk = values[index] << 18 | values[index + 1] << 12
            out.append(UInt8(chunk >> 16 & 0xFF))
        } else if rest == 3 {
            let chunk = values[index] << 18 | values[index + 1] << 12 | values[index + 2] << 6
            out.append(UInt8(chunk >> 16 & 0xFF))
            out.append(UInt8(chunk >> 8 & 0xFF))
        }
        return out
    }
}

/// Lower-case hexadecimal (RFC 4648 §8), for digests, key ids and fingerprints.
public enum Base16 {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes upper- or lower-case hex; `nil` on an odd length or any other character.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

// MARK: - Random values

extension BigInt {
    /// A uniformly random value in 0..<`bound`, drawn from `generator` by rejection sampling.
    ///
    /// Production code passes the CSPRNG (`SecureRandom` in `Primitives`); tests may pass a
    /// seeded generator.
    /// - Precondition: `bound` is positive.
    public static func random(below bound: BigInt, using generator: inout some RandomNumberGenerator) -> BigInt {
        precondition(bound.signum > 0, "random(below:) needs a positive bound")
        let bits = bound.bitWidth
        while true {
            let candidate = random(bits: bits, using: &generator)
            if candidate < bound { return candidate }
        }
    }

    /// A uniformly random value in 1..<`bound`.
    public static func random(in range: Range<BigInt>, using generator: inout some RandomNumberGenerator) -> BigInt {
        precondition(range.lowerBound < range.upperBound, "empty range")
        return range.lowerBound + random(below: range.upperBound - range.lowerBound, using: &generator)
    }

    /// A uniformly random value in 0..<2^`bits`.
    public static func random(bits: Int, using generator: inout some RandomNumberGenerator) -> BigInt {
        precondition(bits >= 0, "negative bit count")
        let words = (bits + 63) / 64
        var limbs = [UInt64](repeating: 0, count: words)
        for index in limbs.indices { limbs[index] = generator.next() }
        let excess = words * 64 - bits
        if excess > 0, words > 0 { limbs[words - 1] &= UInt64.max >> UInt64(excess) }
        let result = MPZStorage()
        if words > 0 {
            limbs.withUnsafeBytes { raw in
                // Least significant word first, native byte order within words.
                __gmpz_import(result.pointer, words, -1, 8, 0, 0, raw.baseAddress)
            }
        }
        for index in limbs.indices { limbs[index] = 0 }
        return BigInt(storage: result)
    }
}
