import Primitives

/// Key derivations, the session id and the sharing graph: everything both sides must compute
/// identically.
enum SessionCrypto {
    static let keyLength = X25519.keyLength
    /// Plaintext of one encrypted share pair: sender (4) ‖ recipient (4) ‖ seed share ‖ mask-key share.
    static let sharePlaintextLength = 8 + 2 * Shamir.shareLength
    static let shareCiphertextLength = AESGCM.nonceLength + sharePlaintextLength + AESGCM.tagLength

    static func bigEndian(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func bigEndian32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).bigEndian) { Array($0) } }

    /// SHA-256 over the configuration and every advertised key pair, length-prefixed, in id
    /// order (parties that did not advertise contribute an empty entry). Each client recomputes
    /// it from the key directory.
    static func sessionID(configuration: SecAggConfiguration, keys: [AdvertisedKeys]) -> [UInt8] {
        var hasher = SHA256.Hasher()
        hasher.updateField(configuration.canonicalBytes)
        var byParty: [Int: AdvertisedKeys] = [:]
        for entry in keys { byParty[entry.party] = entry }
        for party in 0..<configuration.parties {
            if let entry = byParty[party] {
                hasher.updateField(bigEndian32(party) + [1])
                hasher.updateField(entry.maskPublicKey)
                hasher.updateField(entry.channelPublicKey)
            } else {
                hasher.updateField(bigEndian32(party) + [0])
            }
        }
        return hasher.finalize()
    }

    /// The AES-256-GCM key for shares sent from `sender` to `recipient`: one key per direction
    /// and session, used for exactly one message, hence the fixed nonce.
    static func channelKey(sharedSecret: [UInt8], sessionID: [UInt8], sender: Int, recipient: Int) throws -> [UInt8] {
        try HKDF.deriveKey(
            ikm: sharedSecret, salt: sessionID,
            info: Array("fedshare/secagg/v1/share-channel".utf8) + bigEndian32(sender) + bigEndian32(recipient),
            length: AESGCM.keyLength)
    }

    static let channelNonce = [UInt8](repeating: 0, count: AESGCM.nonceLength)

    /// Associated data binding a share ciphertext to the session, round, sender and recipient.
    static func shareAssociatedData(configuration: SecAggConfiguration, sessionID: [UInt8], sender: Int, recipient: Int) -> [UInt8] {
        Array("fedshare/secagg/v1/share".utf8) + sessionID + bigEndian(configuration.round)
            + bigEndian32(sender) + bigEndian32(recipient)
    }

    /// The AES-256-CTR key of the pairwise mask between `a` and `b` (symmetric in a, b).
    static func pairwiseMaskKey(
        sharedSecret: [UInt8], sessionID: [UInt8], configuration: SecAggConfiguration,
        _ a: Int, _ b: Int
    ) throws -> [UInt8] {
        try HKDF.deriveKey(
            ikm: sharedSecret, salt: sessionID,
            info: maskInfo("pairwise", configuration) + bigEndian32(min(a, b)) + bigEndian32(max(a, b)),
            length: keyLength)
    }

    /// The AES-256-CTR key of `owner`'s self mask, from its seed b_u.
    static func selfMaskKey(seed: [UInt8], sessionID: [UInt8], configuration: SecAggConfiguration, owner: Int) throws -> [UInt8] {
        try HKDF.deriveKey(
            ikm: seed, salt: sessionID,
            info: maskInfo("self", configuration) + bigEndian32(owner), length: keyLength)
    }

    private static func maskInfo(_ kind: String, _ configuration: SecAggConfiguration) -> [UInt8] {
        let name = Array(configuration.vectorName.utf8)
        return Array("fedshare/secagg/v1/mask/\(kind)".utf8) + bigEndian(configuration.round)
            + bigEndian(UInt64(name.count)) + name + bigEndian(UInt64(configuration.vectorLength))
    }

    /// True when `key` is a well-formed X25519 public key of length 32 that is not one of the
    /// small-order points (whose shared secrets are predictable).
    static func isAcceptablePublicKey(_ key: [UInt8]) -> Bool {
        guard key.count == keyLength else { return false }
        // u-coordinates of the points of order 1, 2, 4 and 8 (and their non-canonical twins
        // differ only in the top bit, which X25519 ignores).
        var canonical = key
        canonical[31] &= 0x7F
        if canonical.allSatisfy({ $0 == 0 }) { return false }
        if canonical[0] == 1, canonical[1...].allSatisfy({ $0 == 0 }) { return false }
        return !smallOrderPoints.contains(KeyFingerprint(canonical))
    }

    private static let smallOrderPoints: Set<KeyFingerprint> = Set(
        ([
            [
                0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
                0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
            ],
            [
                0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
                0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
            ],
            [
                0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            [
                0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            [
                0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
        ] as [[UInt8]]).map(KeyFingerprint.init))
}

/// The sharing graph of one session: the complete graph, or a Harary graph H(k, n) laid over a
/// permutation of the parties derived from the session id.
///
/// The permutation is HKDF(session id) driving a Fisher–Yates shuffle. The session id hashes
/// every party's fresh public keys, so the permutation is unpredictable before the keys are
/// advertised and a server that follows the protocol cannot choose it; it is public once the
/// directory is out (as in FCP, where the server itself draws it). Limitation: a server that
/// colludes with a client could let that client grind its own key to bias the permutation.
public struct SharingGraph: Sendable {
    public let parties: Int
    public let graph: SecAggGraph
    /// position → party, and party → position (Harary only).
    private let order: [Int]
    private let position: [Int]

    init(configuration: SecAggConfiguration, sessionID: [UInt8]) throws {
        parties = configuration.parties
        graph = configuration.graph
        guard case .harary = configuration.graph else {
            order = []
            position = []
            return
        }
        let key = try HKDF.deriveKey(ikm: sessionID, info: Array("fedshare/secagg/v1/graph-permutation".utf8), length: 32)
        var generator = try KeystreamGenerator(key: key)
        var order = Array(0..<parties)
        for index in stride(from: parties - 1, to: 0, by: -1) {
            order.swapAt(index, Int.random(in: 0...index, using: &generator))
        }
        var position = [Int](repeating: 0, count: parties)
        for (slot, party) in order.enumerated() { position[party] = slot }
        self.order = order
        self.position = position
    }

    /// The neighbours of `party`, itself excluded, in increasing id order.
    public func neighbours(of party: Int) -> [Int] {
        switch graph {
        case .complete:
            return (0..<parties).filter { $0 != party }
        case .harary(let degree):
            let slot = position[party]
            var result: [Int] = []
            for offset in 1...(degree / 2) {
                result.append(order[(slot + offset) % parties])
                result.append(order[(slot - offset + parties) % parties])
            }
            return result.sorted()
        }
    }

    /// Whether `a` and `b` are neighbours (a ≠ b).
    public func areNeighbours(_ a: Int, _ b: Int) -> Bool {
        guard a != b else { return false }
        switch graph {
        case .complete: return true
        case .harary(let degree):
            let distance = abs(position[a] - position[b])
            return min(distance, parties - distance) <= degree / 2
        }
    }
}

/// A deterministic generator driven by an AES-256-CTR keystream (for the graph permutation).
struct KeystreamGenerator: RandomNumberGenerator {
    private var buffer: [UInt64]
    private var index = 0
    private let key: [UInt8]
    private var block: UInt64 = 0

    init(key: [UInt8]) throws {
        self.key = key
        buffer = []
        try refill()
    }

    private mutating func refill() throws {
        var counter = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: block.bigEndian) { counter.replaceSubrange(8..<16, with: $0) }
        var stream = try AESCTRKeystream(key: key, counter: counter)
        var words = [UInt64](repeating: 0, count: 256)
        stream.fill(&words)
        buffer = words
        block += 128  // 256 words = 128 AES blocks
        index = 0
    }

    mutating func next() -> UInt64 {
        if index == buffer.count {
            // The key has been validated at init; refilling cannot fail.
            try? refill()
        }
        defer { index += 1 }
        return buffer[index]
    }
}

/// A 32-byte public key as four words: hashing it costs four word combines instead of 32 byte
/// combines (the directory checks hash 2n keys per party).
struct KeyFingerprint: Hashable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ key: [UInt8]) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, UInt64(key.count))
        key.withUnsafeBytes { raw in
            func word(_ index: Int) -> UInt64 {
                var value: UInt64 = 0
                for byte in 0..<8 where index * 8 + byte < raw.count { value |= UInt64(raw[index * 8 + byte]) << (8 * byte) }
                return value
            }
            words = (word(0), word(1), word(2), word(3) ^ (key.count == 32 ? 0 : UInt64(key.count) << 56))
        }
        self.words = words
    }

    static func == (lhs: KeyFingerprint, rhs: KeyFingerprint) -> Bool {
        lhs.words == rhs.words
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
