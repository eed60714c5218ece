import Arithmetic
import Foundation
import Primitives

// MARK: - python-paillier (pheutil) JSON

/// A public key in pheutil's JWK-like JSON: `{"kty": "DAJ", "alg": "PAI-GN1", "key_ops":
/// ["encrypt"], "n": <base64url>, "kid": …}`.
public struct PheutilPublicKeyJSON: Codable, Sendable {
    public var kty: String
    public var alg: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    public var key_ops: [String]?
    public var n: String
    public var kid: String?

    public init(_ key: PaillierPublicKey, kid: String) {
        kty = "DAJ"
        alg = "PAI-GN1"
        key_ops = ["encrypt"]
        n = key.n.base64URL
        self.kid = kid
    }

    /// The key, validated.
    public func publicKey(policy: KeySizePolicy = .production) throws -> PaillierPublicKey {
        guard kty == "DAJ" else { throw PaillierError.malformed("field \"kty\": expected \"DAJ\", found \"\(kty)\"") }
        guard alg == "PAI-GN1" else { throw PaillierError.malformed("field \"alg\": expected \"PAI-GN1\", found \"\(alg)\"") }
        guard let modulus = BigInt(base64URL: n) else { throw PaillierError.malformed("field \"n\": expected base64url digits") }
        return try PaillierPublicKey(n: modulus, policy: policy)
    }
}

/// A private key in pheutil's JSON: `{"kty": "DAJ", "key_ops": ["decrypt"], "p": …, "q": …,
/// "pub": {public key}, "kid": …}`.
public struct PheutilPrivateKeyJSON: Codable, Sendable {
    public var kty: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    public var key_ops: [String]?
    public var p: String
    public var q: String
    public var pub: PheutilPublicKeyJSON
    public var kid: String?

    public init(_ key: PaillierPrivateKey, kid: String, publicKid: String) {
        kty = "DAJ"
        key_ops = ["decrypt"]
        p = key.factors.p.base64URL
        q = key.factors.q.base64URL
        pub = PheutilPublicKeyJSON(key.publicKey, kid: publicKid)
        self.kid = kid
    }

    /// The key, validated (p · q must equal the public n).
    public func privateKey(policy: KeySizePolicy = .production) throws -> PaillierPrivateKey {
        guard kty == "DAJ" else { throw PaillierError.malformed("field \"kty\": expected \"DAJ\", found \"\(kty)\"") }
        // swift-format-ignore: AlwaysUseLowerCamelCase
        if let key_ops, !key_ops.contains("decrypt") {
            throw PaillierError.malformed("field \"key_ops\": expected it to contain \"decrypt\" (is this a public key?)")
        }
        let publicKey = try pub.publicKey(policy: policy)
        guard var p = BigInt(base64URL: p) else { throw PaillierError.malformed("field \"p\": expected base64url digits") }
        guard var q = BigInt(base64URL: q) else { throw PaillierError.malformed("field \"q\": expected base64url digits") }
        p.markSecret()
        q.markSecret()
        return try PaillierPrivateKey(p: p, q: q, publicKey: publicKey)
    }
}

/// One ciphertext in pheutil's JSON: `{"v": "<decimal ciphertext>", "e": <base-16 exponent>}`.
/// fedshare adds `"fedshare_key"` (the key fingerprint), which python-paillier ignores and which
/// lets fedshare refuse a ciphertext made under another key.
public struct PheutilCiphertextJSON: Codable, Sendable {
    public var v: String
    public var e: Int
    // swift-format-ignore: AlwaysUseLowerCamelCase
    public var fedshare_key: String?

    public init(ciphertext: PaillierCiphertext, exponent: Int, key: PaillierPublicKey) {
        v = ciphertext.value.description
        e = exponent
        fedshare_key = key.fingerprint
    }

    /// The base-16 exponents accepted on reading. python-paillier writes −32 or the precision
    /// exponent of a float (about −282…243), sums of two after a multiplication; a wild exponent
    /// would make decoding shift by 4·e bits (overflowing Int, or allocating without bound) and
    /// lowering it to −32 exponentiate by 16^(e+32). Found by fuzzing (`pheutil-ciphertext`).
    public static let exponentRange = -2048...2048

    /// The ciphertext, validated against `key` (with its exponent in ``exponentRange``).
    public func ciphertext(for key: PaillierPublicKey) throws -> PaillierCiphertext {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        if let fedshare_key, fedshare_key != key.fingerprint {
            throw PaillierError.keyMismatch
        }
        guard PheutilCiphertextJSON.exponentRange.contains(e) else {
            throw PaillierError.malformed(
                "field \"e\": exponent \(e) is outside \(PheutilCiphertextJSON.exponentRange.lowerBound)…\(PheutilCiphertextJSON.exponentRange.upperBound)")
        }
        guard let value = BigInt(v) else { throw PaillierError.malformed("field \"v\": expected a decimal integer") }
        return try key.ciphertext(value)
    }
}

// MARK: - Packed batches (binary)

/// A versioned binary container for a batch of ciphertexts under one key:
///
/// ```
/// "FSPC" | version u8 (1) | key fingerprint (32 bytes) | count u32 BE | width u32 BE |
/// count × width-byte big-endian ciphertexts
/// ```
///
/// `width` must equal the key's ciphertext size; every element is validated on decoding.
public enum CiphertextBatchCodec {
    static let magic: [UInt8] = Array("FSPC".utf8)
    public static let version: UInt8 = 1
    /// The most ciphertexts one batch may declare (bounds allocation before reading).
    public static let maximumCount = 1 << 24

    public static func encode(_ ciphertexts: [PaillierCiphertext], key: PaillierPublicKey) -> [UInt8] {
        let width = key.ciphertextByteCount
        var bytes = magic + [version] + SHA256.hash(key.n.magnitudeBytes())
        bytes += withUnsafeBytes(of: UInt32(ciphertexts.count).bigEndian) { Array($0) }
        bytes += withUnsafeBytes(of: UInt32(width).bigEndian) { Array($0) }
        bytes.reserveCapacity(bytes.count + width * ciphertexts.count)
        for ciphertext in ciphertexts {
            // A validated ciphertext is below n², so it always fits.
            bytes += ciphertext.value.bigEndianBytes(length: width) ?? []
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8], key: PaillierPublicKey) throws -> [PaillierCiphertext] {
        let header = magic.count + 1 + 32 + 8
        guard bytes.count >= header, Array(bytes[0..<4]) == magic else {
            throw PaillierError.malformed("not a fedshare ciphertext batch (bad magic or too short)")
        }
        guard bytes[4] == version else { throw PaillierError.malformed("ciphertext batch version \(bytes[4]) is not supported (expected \(version))") }
        guard Array(bytes[5..<37]) == SHA256.hash(key.n.magnitudeBytes()) else { throw PaillierError.keyMismatch }
        let count = Int(bytes[37..<41].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let width = Int(bytes[41..<45].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard width == key.ciphertextByteCount else {
            throw PaillierError.malformed("ciphertext width \(width) bytes does not match the key's \(key.ciphertextByteCount)")
        }
        guard count <= maximumCount, bytes.count == header + count * width else {
            throw PaillierError.malformed("ciphertext batch declares \(count) elements of \(width) bytes but holds \(bytes.count - header) bytes")
        }
        var ciphertexts: [PaillierCiphertext] = []
        ciphertexts.reserveCapacity(count)
        for index in 0..<count {
            let start = header + index * width
            do {
                ciphertexts.append(try key.ciphertext(BigInt(bigEndian: bytes[start..<(start + width)])))
            } catch let error as PaillierError {
                throw PaillierError.ciphertextOutOfRange("element \(index): \(error)")
            }
        }
        return ciphertexts
    }
}
