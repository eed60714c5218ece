/// Messages of a secure-aggregation round: plain data (integers and byte arrays), `Codable`
/// and `Sendable`, so that the network layer can carry them unchanged.
///
/// Flow: client `AdvertiseKeys` → server `KeyDirectory` (to all) → client `ShareKeys` →
/// server `ForwardedShares` (per recipient) → client `MaskedInput` → [consistency check only:
/// server `SurvivorSet` → client `SurvivorSignature`] → server `UnmaskingRequest` → client
/// `UnmaskingResponse` → result. The server may send `RoundAbort` at any time.

/// One party's advertised public keys, signed when the round is authenticated.
public struct AdvertisedKeys: Sendable, Hashable, Codable {
    public let party: Int
    /// X25519 public key for the pairwise masks (s_u^PK).
    public let maskPublicKey: [UInt8]
    /// X25519 public key for the encrypted share channel (c_u^PK).
    public let channelPublicKey: [UInt8]
    /// What the verifier needs to check this party's signatures (the federation layer puts the
    /// party's certificate DER here). Opaque to this module; empty when unauthenticated.
    public let credential: [UInt8]
    /// The party's signature over `SecAggTranscript.advertisedKeys(...)`; empty when unauthenticated.
    public let signature: [UInt8]

    public init(
        party: Int, maskPublicKey: [UInt8], channelPublicKey: [UInt8],
        credential: [UInt8] = [], signature: [UInt8] = []
    ) {
        self.party = party
        self.maskPublicKey = maskPublicKey
        self.channelPublicKey = channelPublicKey
        self.credential = credential
        self.signature = signature
    }

    private enum CodingKeys: String, CodingKey { case party, maskPublicKey, channelPublicKey, credential, signature }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            party: try container.decode(Int.self, forKey: .party),
            maskPublicKey: try container.decode([UInt8].self, forKey: .maskPublicKey),
            channelPublicKey: try container.decode([UInt8].self, forKey: .channelPublicKey),
            credential: try container.decodeIfPresent([UInt8].self, forKey: .credential) ?? [],
            signature: try container.decodeIfPresent([UInt8].self, forKey: .signature) ?? [])
    }
}

/// Round 0, client → server.
public struct AdvertiseKeys: Sendable, Hashable, Codable {
    public let round: UInt64
    public let sessionNonce: [UInt8]
    public let keys: AdvertisedKeys

    public init(round: UInt64, sessionNonce: [UInt8], keys: AdvertisedKeys) {
        self.round = round
        self.sessionNonce = sessionNonce
        self.keys = keys
    }
}

/// Round 1, server → every client: the keys of the parties that advertised, in id order, and
/// the session id the server computed (each client recomputes and compares).
public struct KeyDirectory: Sendable, Hashable, Codable {
    public let round: UInt64
    public let sessionID: [UInt8]
    public let keys: [AdvertisedKeys]

    public init(round: UInt64, sessionID: [UInt8], keys: [AdvertisedKeys]) {
        self.round = round
        self.sessionID = sessionID
        self.keys = keys
    }
}

/// One AES-256-GCM ciphertext of a pair of Shamir shares, from `sender` to `recipient`.
public struct EncryptedShare: Sendable, Hashable, Codable {
    public let sender: Int
    public let recipient: Int
    /// nonce ‖ ciphertext ‖ tag.
    public let ciphertext: [UInt8]

    public init(sender: Int, recipient: Int, ciphertext: [UInt8]) {
        self.sender = sender
        self.recipient = recipient
        self.ciphertext = ciphertext
    }
}

/// Round 1, client → server: one ciphertext per live neighbour.
public struct ShareKeys: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    public let sender: Int
    public let shares: [EncryptedShare]

    public init(sessionID: [UInt8], sender: Int, shares: [EncryptedShare]) {
        self.sessionID = sessionID
        self.sender = sender
        self.shares = shares
    }
}

/// Round 2, server → one client: the ciphertexts addressed to it, from the parties that
/// completed round 1. A neighbour with no entry is dead from the recipient's point of view.
public struct ForwardedShares: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    public let recipient: Int
    public let shares: [EncryptedShare]

    public init(sessionID: [UInt8], recipient: Int, shares: [EncryptedShare]) {
        self.sessionID = sessionID
        self.recipient = recipient
        self.shares = shares
    }
}

/// Round 2, client → server: the masked input, one word per element (mod 2^64).
public struct MaskedInput: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    public let sender: Int
    public let vector: [UInt64]

    public init(sessionID: [UInt8], sender: Int, vector: [UInt64]) {
        self.sessionID = sessionID
        self.sender = sender
        self.vector = vector
    }
}

/// Consistency check (only with `SecAggConfiguration.consistencyCheck`), server → each party
/// whose masked input arrived: the survivors U3, ascending.
public struct SurvivorSet: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    public let survivors: [Int]

    public init(sessionID: [UInt8], survivors: [Int]) {
        self.sessionID = sessionID
        self.survivors = survivors
    }
}

/// Consistency check, client → server: the sender's signature over
/// `SecAggTranscript.survivorSet(sessionID:survivors:)` of the set it was sent.
public struct SurvivorSignature: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    public let sender: Int
    public let signature: [UInt8]

    public init(sessionID: [UInt8], sender: Int, signature: [UInt8]) {
        self.sessionID = sessionID
        self.sender = sender
        self.signature = signature
    }
}

/// One survivor's signature over the survivor set, as relayed in the unmasking request.
public struct SignedSurvivor: Sendable, Hashable, Codable {
    public let party: Int
    public let signature: [UInt8]

    public init(party: Int, signature: [UInt8]) {
        self.party = party
        self.signature = signature
    }
}

/// Round 3, server → each party that sent a masked input (with the consistency check: each
/// party that signed the survivor set, U4).
public struct UnmaskingRequest: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    /// Parties whose masked input was received (U3).
    public let alive: [Int]
    /// Parties that completed round 1 but sent no masked input (U2 \ U3).
    public let dead: [Int]
    /// With the consistency check: the survivors' signatures over `alive` (at least t, from
    /// parties in `alive`). Empty otherwise.
    public let signatures: [SignedSurvivor]

    public init(sessionID: [UInt8], alive: [Int], dead: [Int], signatures: [SignedSurvivor] = []) {
        self.sessionID = sessionID
        self.alive = alive
        self.dead = dead
        self.signatures = signatures
    }

    private enum CodingKeys: String, CodingKey { case sessionID, alive, dead, signatures }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            sessionID: try container.decode([UInt8].self, forKey: .sessionID),
            alive: try container.decode([Int].self, forKey: .alive),
            dead: try container.decode([Int].self, forKey: .dead),
            signatures: try container.decodeIfPresent([SignedSurvivor].self, forKey: .signatures) ?? [])
    }
}

/// One revealed share: of `owner`'s self-mask seed (owner alive) or of its mask private key
/// (owner dead), held by the sender.
public struct RevealedShare: Sendable, Hashable, Codable {
    public let owner: Int
    public let share: [UInt8]

    public init(owner: Int, share: [UInt8]) {
        self.owner = owner
        self.share = share
    }
}

/// Round 3, client → server. Never both kinds for one owner.
public struct UnmaskingResponse: Sendable, Hashable, Codable {
    public let sessionID: [UInt8]
    public let sender: Int
    public let seedShares: [RevealedShare]
    public let maskKeyShares: [RevealedShare]

    public init(sessionID: [UInt8], sender: Int, seedShares: [RevealedShare], maskKeyShares: [RevealedShare]) {
        self.sessionID = sessionID
        self.sender = sender
        self.seedShares = seedShares
        self.maskKeyShares = maskKeyShares
    }
}

/// Server → clients: the round stopped; `reason` names the phase and the missing parties.
public struct RoundAbort: Sendable, Hashable, Codable {
    public let round: UInt64
    public let reason: String

    public init(round: UInt64, reason: String) {
        self.round = round
        self.reason = reason
    }
}

/// Everything a client sends.
public enum ClientMessage: Sendable, Hashable, Codable {
    case advertiseKeys(AdvertiseKeys)
    case shareKeys(ShareKeys)
    case maskedInput(MaskedInput)
    /// Consistency check only.
    case survivorSignature(SurvivorSignature)
    case unmaskingResponse(UnmaskingResponse)

    /// The sending party.
    public var sender: Int {
        switch self {
        case .advertiseKeys(let message): return message.keys.party
        case .shareKeys(let message): return message.sender
        case .maskedInput(let message): return message.sender
        case .survivorSignature(let message): return message.sender
        case .unmaskingResponse(let message): return message.sender
        }
    }

    /// The phase the message belongs to.
    public var phase: SecAggPhase {
        switch self {
        case .advertiseKeys: return .advertiseKeys
        case .shareKeys: return .shareKeys
        case .maskedInput: return .maskedInput
        case .survivorSignature: return .consistencyCheck
        case .unmaskingResponse: return .unmasking
        }
    }

    /// Payload bytes (keys, ciphertexts, vector words, shares, ids as 4 bytes): close to the
    /// size of the protobuf encoding, without framing.
    public var payloadSize: Int {
        switch self {
        case .advertiseKeys(let message):
            return 8 + message.sessionNonce.count + 4 + message.keys.maskPublicKey.count + message.keys.channelPublicKey.count
                + message.keys.credential.count + message.keys.signature.count
        case .shareKeys(let message):
            return message.sessionID.count + 4 + message.shares.reduce(0) { $0 + 8 + $1.ciphertext.count }
        case .maskedInput(let message):
            return message.sessionID.count + 4 + 8 * message.vector.count
        case .survivorSignature(let message):
            return message.sessionID.count + 4 + message.signature.count
        case .unmaskingResponse(let message):
            return message.sessionID.count + 4
                + (message.seedShares + message.maskKeyShares).reduce(0) { $0 + 4 + $1.share.count }
        }
    }
}

/// Everything the server sends.
public enum ServerMessage: Sendable, Hashable, Codable {
    case keyDirectory(KeyDirectory)
    case forwardedShares(ForwardedShares)
    /// Consistency check only.
    case survivorSet(SurvivorSet)
    case unmaskingRequest(UnmaskingRequest)
    case abort(RoundAbort)

    var kind: String {
        switch self {
        case .keyDirectory: return "key directory"
        case .forwardedShares: return "forwarded shares"
        case .survivorSet: return "survivor set"
        case .unmaskingRequest: return "unmasking request"
        case .abort: return "abort"
        }
    }
}

/// A server message and the party it goes to.
public struct Addressed<Message: Sendable & Hashable & Codable>: Sendable, Hashable, Codable {
    public let recipient: Int
    public let message: Message

    public init(recipient: Int, message: Message) {
        self.recipient = recipient
        self.message = message
    }
}
