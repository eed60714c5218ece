/// Failures of the Paillier engine. Each message names what is wrong and what was expected.
public enum PaillierError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key size below the floor or otherwise unsupported.
    case unsupportedKeySize(bits: Int, minimum: Int)
    /// A public modulus that cannot be a Paillier modulus (even, too small, …).
    case invalidModulus(String)
    /// Private factors that do not match the public key.
    case invalidPrivateKey(String)
    /// A ciphertext outside Z*_{n²}.
    case invalidCiphertext(String)
    /// A plaintext outside 0..<n.
    case plaintextOutOfRange(String)
    /// Two operands belong to different keys.
    case keyMismatch
    /// A slot layout that could overflow, or values outside its declared bounds.
    case invalidLayout(String)
    /// A packed sum whose slots exceeded the declared bounds.
    case overflow(String)
    /// Malformed serialised material.
    case malformed(String)

    public var description: String {
        switch self {
        case .unsupportedKeySize(let bits, let minimum):
            return "Paillier key size \(bits) bits is not allowed: use at least \(minimum) bits (2048, 3072 or 4096)"
        case .invalidModulus(let message): return "invalid Paillier public key: \(message)"
        case .invalidPrivateKey(let message): return "invalid Paillier private key: \(message)"
        case .invalidCiphertext(let message): return "invalid ciphertext: \(message)"
        case .plaintextOutOfRange(let message): return "plaintext out of range: \(message)"
        case .keyMismatch: return "the ciphertexts belong to different Paillier keys"
        case .invalidLayout(let message): return "slot layout rejected: \(message)"
        case .overflow(let message): return "overflow: \(message)"
        case .malformed(let message): return message
        }
    }
}
