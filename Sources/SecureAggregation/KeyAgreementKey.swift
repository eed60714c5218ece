import Primitives

/// An X25519 private key used for one round: the mask-agreement or the channel key.
///
/// A thin adapter over `Primitives.X25519.PrivateKey` (one OpenSSL key object per key, so each
/// agreement costs one scalar multiplication) that reports failures as `SecAggError`.
final class KeyAgreementKey: Sendable {
    private let key: X25519.PrivateKey
    /// The 32-byte scalar (shared with Shamir; wiped on release).
    let secret: SecretBytes
    /// The matching 32-byte public key.
    let publicKey: [UInt8]

    init(rawRepresentation raw: [UInt8]) throws {
        guard raw.count == 32 else { throw SecAggError.malformed(what: "X25519 private key", reason: "expected 32 bytes, found \(raw.count)") }
        do {
            key = try X25519.PrivateKey(rawRepresentation: raw)
        } catch {
            throw SecAggError.malformed(what: "X25519 private key", reason: "OpenSSL refused it")
        }
        secret = SecretBytes(raw)
        publicKey = key.publicKey.rawRepresentation
    }

    /// X25519(this key, peer); refuses small-order peers (all-zero result).
    func sharedSecret(with peer: [UInt8]) throws -> [UInt8] {
        guard let peerKey = try? X25519.PublicKey(rawRepresentation: peer) else {
            throw SecAggError.malformed(what: "X25519 public key", reason: "not 32 bytes")
        }
        do {
            return try key.sharedSecret(with: peerKey)
        } catch {
            throw SecAggError.malformed(what: "X25519 public key", reason: "small-order point rejected")
        }
    }
}
