import Arithmetic
import Foundation
import Paillier

/// pheutil JSON (keys, ciphertexts) and the binary ciphertext batch codec.
enum PaillierTargets {
    /// `CiphertextBatchCodec.decode` under the threshold fixture's key: decode → encode is the identity.
    static func ciphertextBatch(_ bytes: [UInt8]) {
        let key = Fixtures.thresholdKey.paillierKey
        // Seeds carry the real key fingerprint; let the fuzzer also reach past the fingerprint
        // check by overwriting it when the input asks for it (first byte after the magic = 'K').
        var input = bytes
        if input.count >= 37, input[4] == UInt8(ascii: "K") {
            input[4] = CiphertextBatchCodec.version
            input.replaceSubrange(5..<37, with: CiphertextBatchCodec.encode([], key: key)[5..<37])
        }
        guard let batch = try? CiphertextBatchCodec.decode(input, key: key) else { return }
        let encoded = CiphertextBatchCodec.encode(batch, key: key)
        invariant(encoded == input, "batch re-encodes differently (\(encoded.count) vs \(input.count) bytes)")
        for ciphertext in batch { invariant(ciphertext.value < key.nSquared && ciphertext.value.signum > 0, "element outside (0, n²)") }
    }

    /// A pheutil public key: decode, validate, write, read again.
    static func pheutilPublicKey(_ bytes: [UInt8]) {
        guard let json = try? JSONDecoder().decode(PheutilPublicKeyJSON.self, from: Data(bytes)),
            let key = try? json.publicKey(policy: .insecureTestOnly)
        else { return }
        invariant(key.n.isOdd && key.n.bitWidth >= KeySizePolicy.insecureTestOnly.minimumBits, "accepted an invalid modulus")
        let again = roundTrip(PheutilPublicKeyJSON(key, kid: json.kid ?? "k"))
        invariant((try? again?.publicKey(policy: .insecureTestOnly)) == key, "public key does not survive a write and read")
    }

    /// A pheutil private key: decode, validate (p·q = n), write, read again, decrypt one encryption.
    static func pheutilPrivateKey(_ bytes: [UInt8]) {
        guard let json = try? JSONDecoder().decode(PheutilPrivateKeyJSON.self, from: Data(bytes)),
            let key = try? json.privateKey(policy: .insecureTestOnly)
        else { return }
        invariant(key.factors.p * key.factors.q == key.publicKey.n, "accepted factors whose product is not n")
        let again = roundTrip(PheutilPrivateKeyJSON(key, kid: "k", publicKid: "k"))
        invariant(
            (try? again?.privateKey(policy: .insecureTestOnly))?.publicKey == key.publicKey,
            "private key does not survive a write and read")
        var random = FixedRandom()
        if let ciphertext = try? key.publicKey.encrypt(BigInt(12345), method: .plain, using: &random) {
            invariant(key.decrypt(ciphertext) == BigInt(12345), "an accepted private key does not decrypt")
        }
    }

    /// A pheutil ciphertext under the phe_interop key, then what `fedshare paillier` does with
    /// one: decrypt and print, add, multiply, write back.
    static func pheutilCiphertext(_ bytes: [UInt8]) {
        let privateKey = Fixtures.pheKey!
        let key = privateKey.publicKey
        guard let json = try? JSONDecoder().decode(PheutilCiphertextJSON.self, from: Data(bytes)),
            let ciphertext = try? json.ciphertext(for: key)
        else { return }
        let number = PheEncryptedNumber(ciphertext: ciphertext, exponent: json.e)
        let text = try? number.decryptedText(with: privateKey)
        _ = try? number.adding(number, key: key).decryptedText(with: privateKey)
        _ = try? number.adding(1.5, key: key).decryptedText(with: privateKey)
        _ = try? number.multiplied(by: -2.25, key: key).decryptedText(with: privateKey)
        var random = FixedRandom()
        let written = number.serialised(key: key, using: &random)
        guard let reread = roundTrip(written), let back = try? reread.ciphertext(for: key) else {
            invariant(false, "a written ciphertext does not read back")
            return
        }
        // Lowering multiplies the plaintext by 16^(e+32) without knowing it; a value beyond any
        // double (above about 2^1918 under this key) then wraps modulo n. python-paillier's
        // format has the same limit, so only values a double can hold must survive.
        if let text, Double(text)?.isFinite == true {
            let again = try? PheEncryptedNumber(ciphertext: back, exponent: reread.e).decryptedText(with: privateKey)
            // Writing lowers the exponent to −32 (as pheutil does), so an integer may come back
            // printed as a float: compare the values, which lowering keeps exact.
            invariant(again.flatMap(Double.init) == Double(text), "value changed on write and read: \(text) → \(again ?? "error")")
        }
    }

    static func roundTrip<T: Codable>(_ value: T) -> T? {
        guard let data = try? JSONEncoder().encode(value) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }
}

/// A deterministic generator for the harness (nothing here is secret).
struct FixedRandom: RandomNumberGenerator {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
