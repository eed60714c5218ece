/// Failures of the OpenSSL-backed primitives.
public enum PrimitivesError: Error, Equatable, Sendable, CustomStringConvertible {
    /// OpenSSL reported an error in `operation`.
    case openSSL(operation: String)
    /// A key, nonce or input had the wrong length.
    case invalidLength(what: String, expected: Int, found: Int)
    /// An authenticated ciphertext failed verification (wrong key, wrong context or tampered).
    case authenticationFailed
    /// An X25519 exchange produced the all-zero secret (a small-order public key).
    case weakPublicKey
    /// A requested size is outside what the operation supports.
    case unsupportedSize(String)

    public var description: String {
        switch self {
        case .openSSL(let operation): return "OpenSSL failed in \(operation)"
        case .invalidLength(let what, let expected, let found): return "\(what): expected \(expected) bytes, found \(found)"
        case .authenticationFailed: return "authentication failed: the message was tampered with or is not for this key"
        case .weakPublicKey: return "X25519 public key of small order rejected"
        case .unsupportedSize(let message): return message
        }
    }
}
