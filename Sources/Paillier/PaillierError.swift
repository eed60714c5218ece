import Foundation

/// Failures of the Paillier module: the plain engine (keys, ciphertexts, slot packing,
/// serialisation) and threshold Paillier (key dealing, partial decryption, combination and
/// their serialisation). Each message is one line that names what is wrong and what was
/// expected, or the party, the field or the item at fault.
public enum PaillierError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    // MARK: Plain engine

    /// A key size below the floor or otherwise unsupported.
    case unsupportedKeySize(bits: Int, minimum: Int)
    /// A public modulus that cannot be a Paillier modulus (even, too small, …).
    case invalidModulus(String)
    /// Private factors that do not match the public key.
    case invalidPrivateKey(String)
    /// A ciphertext outside Z*_{n²} (not in 0 < c < n², or sharing a factor with n).
    case ciphertextOutOfRange(String)
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

    // MARK: Threshold Paillier

    /// Threshold or party count out of range.
    case invalidParameters(String)
    /// A threshold key's modulus is below the size floor (2048 bits) and small sizes were not
    /// allowed for a test.
    case keyTooSmall(bits: Int, minimum: Int)
    /// A threshold public key or share that does not hold together (bad field, wrong count,
    /// not a unit…).
    case malformedKey(String)
    /// Material made for another threshold key.
    case wrongKey(what: String, expected: String, found: String)
    /// The ciphertext at `index` of a batch to decrypt is outside Z*_{n²}.
    case invalidCiphertext(index: Int, reason: String)
    /// A decryption share that cannot be used; `party` names its sender.
    case invalidShare(party: Int, reason: String)
    /// Two decryption shares claim the same party.
    case duplicateShare(party: Int)
    /// A party id outside 1...parties.
    case unknownParty(Int, parties: Int)
    /// Fewer than `threshold` valid shares: names who was missing and who was rejected, and why.
    case notEnoughShares(threshold: Int, valid: [Int], rejected: [Rejection], missing: [Int])
    /// Material made for another round or context.
    case wrongContext(what: String, expected: String, found: String)
    /// An encoded threshold object that cannot be read (not JSON, wrong format name, wrong
    /// version, bad field).
    case malformedEncoding(String)
    /// Safe-prime generation failed.
    case keyGenerationFailed(String)

    /// A decryption share that was refused, with the reason.
    public struct Rejection: Equatable, Sendable, CustomStringConvertible {
        public let party: Int
        public let reason: String

        public init(party: Int, reason: String) {
            self.party = party
            self.reason = reason
        }

        public var description: String { "party \(party): \(reason)" }
    }

    public var description: String {
        switch self {
        case .unsupportedKeySize(let bits, let minimum):
            return "Paillier key size \(bits) bits is not allowed: use at least \(minimum) bits (2048, 3072 or 4096)"
        case .invalidModulus(let message): return "invalid Paillier public key: \(message)"
        case .invalidPrivateKey(let message): return "invalid Paillier private key: \(message)"
        case .ciphertextOutOfRange(let message): return "invalid ciphertext: \(message)"
        case .plaintextOutOfRange(let message): return "plaintext out of range: \(message)"
        case .keyMismatch: return "the ciphertexts belong to different Paillier keys"
        case .invalidLayout(let message): return "slot layout rejected: \(message)"
        case .overflow(let message): return "overflow: \(message)"
        case .malformed(let message): return message
        case .invalidParameters(let message):
            return "threshold key: \(message)"
        case .keyTooSmall(let bits, let minimum):
            return "threshold key: a \(bits)-bit modulus is below the \(minimum)-bit minimum; use 2048, 3072 (default) or 4096 bits"
        case .malformedKey(let message):
            return "threshold key: \(message)"
        case .wrongKey(let what, let expected, let found):
            return "\(what) belongs to threshold key \(found), not to this key \(expected)"
        case .invalidCiphertext(let index, let reason):
            return "ciphertext \(index): \(reason)"
        case .invalidShare(let party, let reason):
            return "decryption share from party \(party) rejected: \(reason)"
        case .duplicateShare(let party):
            return "two decryption shares claim party \(party); each party may send one"
        case .unknownParty(let party, let parties):
            return "party \(party) is not a party of this key (parties are 1...\(parties))"
        case .notEnoughShares(let threshold, let valid, let rejected, let missing):
            var parts = ["need \(threshold) valid decryption shares, have \(valid.count)"]
            parts.append(valid.isEmpty ? "valid: none" : "valid: parties \(Self.list(valid))")
            if !rejected.isEmpty {
                parts.append("rejected: " + rejected.map(\.description).joined(separator: "; "))
            }
            if !missing.isEmpty { parts.append("missing: parties \(Self.list(missing))") }
            return parts.joined(separator: "; ")
        case .wrongContext(let what, let expected, let found):
            return "\(what) was made for round/context \(found), not for \(expected)"
        case .malformedEncoding(let message):
            return message
        case .keyGenerationFailed(let message):
            return "threshold key generation failed: \(message)"
        }
    }

    public var errorDescription: String? { description }

    private static func list(_ ids: [Int]) -> String {
        ids.map(String.init).joined(separator: ", ")
    }
}
