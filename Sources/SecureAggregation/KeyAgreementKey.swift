import COpenSSL
import Primitives

/// An X25519 private key held as one OpenSSL key object for the whole round, so that each
/// agreement costs one scalar multiplication. (`Primitives.X25519.PrivateKey` rebuilds the key
/// object, and so recomputes the public key, on every call: about 2.5 times the cost, which
/// dominated the per-party time of a round with short vectors.)
final class KeyAgreementKey: @unchecked Sendable {
    // Immutable after init; OpenSSL allows concurrent derivations from one EVP_PKEY, each with
    // its own context.
    private let key: OpaquePointer
    /// The 32-byte scalar (shared with Shamir; wiped on release).
    let secret: SecretBytes
    /// The matching 32-byte public key.
    let publicKey: [UInt8]

    init(rawRepresentation raw: [UInt8]) throws {
        guard raw.count == 32 else { throw SecAggError.malformed(what: "X25519 private key", reason: "expected 32 bytes, found \(raw.count)") }
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, raw, raw.count) else {
            throw SecAggError.malformed(what: "X25519 private key", reason: "OpenSSL refused it")
        }
        var length = 32
        var publicKey = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_get_raw_public_key(key, &publicKey, &length) == 1, length == 32 else {
            EVP_PKEY_free(key)
            throw SecAggError.malformed(what: "X25519 private key", reason: "no public key")
        }
        self.key = key
        self.secret = SecretBytes(raw)
        self.publicKey = publicKey
    }

    deinit { EVP_PKEY_free(key) }

    /// X25519(this key, peer); refuses small-order peers (all-zero result).
    func sharedSecret(with peer: [UInt8]) throws -> [UInt8] {
        guard peer.count == 32, let peerKey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peer, peer.count) else {
            throw SecAggError.malformed(what: "X25519 public key", reason: "not 32 bytes")
        }
        defer { EVP_PKEY_free(peerKey) }
        guard let context = EVP_PKEY_CTX_new(key, nil) else { throw SecAggError.malformed(what: "X25519 agreement", reason: "no context") }
        defer { EVP_PKEY_CTX_free(context) }
        var length = 32
        var output = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_derive_init(context) == 1, EVP_PKEY_derive_set_peer(context, peerKey) == 1,
              EVP_PKEY_derive(context, &output, &length) == 1, length == 32,
              !output.allSatisfy({ $0 == 0 })
        else { throw SecAggError.malformed(what: "X25519 public key", reason: "small-order point rejected") }
        return output
    }
}
