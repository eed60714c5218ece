import Foundation
import SecureAggregation

/// Maps federation party ids (1-based, from the manifest) to secure-aggregation indices
/// (0..<n, in ascending id order of the round's invited parties) and back.
public struct SecAggPartyMap: Sendable, Hashable {
    /// The round's parties, ascending.
    public let parties: [Int]

    public init(parties: [Int]) throws {
        let sorted = parties.sorted()
        guard Set(sorted).count == sorted.count, sorted.allSatisfy({ $0 >= 1 }) else {
            throw ProtocolError.malformed(message: "RoundOpen", field: "parties", reason: "party ids must be distinct and positive")
        }
        self.parties = sorted
    }

    public func index(of party: Int) throws -> Int {
        guard let index = parties.firstIndex(of: party) else {
            throw ProtocolError.malformed(message: "secure aggregation", field: "party", reason: "party \(party) is not in this round")
        }
        return index
    }

    public func index(wire party: UInt32) throws -> Int { try index(of: Int(party)) }

    public func party(at index: Int) -> Int { parties.indices.contains(index) ? parties[index] : -1 }

    func wire(_ index: Int) -> UInt32 { UInt32(clamping: max(0, party(at: index))) }
}

private let keyBytes = 32
private let maximumShareCiphertext = 4096
/// A federation certificate (DER) and an ECDSA P-256 signature (r ‖ s) are far below these.
private let maximumCredential = 16_384
private let maximumSignature = 256

private func checkBlob(_ data: [UInt8], limit: Int, _ message: String, _ field: String) throws -> [UInt8] {
    guard data.count <= limit else { throw ProtocolError.tooLarge(message: message, field: field, size: data.count, limit: limit) }
    return Array(data)
}

private func checkKey(_ data: [UInt8], _ message: String, _ field: String) throws -> [UInt8] {
    guard data.count == keyBytes else {
        throw ProtocolError.malformed(message: message, field: field, reason: "expected \(keyBytes) bytes, found \(data.count)")
    }
    return Array(data)
}

private func checkSession(_ data: [UInt8], _ message: String) throws -> [UInt8] {
    guard data.count <= 64 else { throw ProtocolError.tooLarge(message: message, field: "session_id", size: data.count, limit: 64) }
    return Array(data)
}

extension Wire.SecAggAdvertisedKeys {
    init(_ keys: AdvertisedKeys, map: SecAggPartyMap) {
        self.init()
        party = map.wire(keys.party)
        maskPublicKey = keys.maskPublicKey
        channelPublicKey = keys.channelPublicKey
        certificate = keys.credential
        signature = keys.signature
    }

    func keys(map: SecAggPartyMap, message: String) throws -> AdvertisedKeys {
        AdvertisedKeys(
            party: try map.index(wire: party), maskPublicKey: try checkKey(maskPublicKey, message, "mask_public_key"),
            channelPublicKey: try checkKey(channelPublicKey, message, "channel_public_key"),
            credential: try checkBlob(certificate, limit: maximumCredential, message, "certificate"),
            signature: try checkBlob(signature, limit: maximumSignature, message, "signature"))
    }
}

extension Wire.SecAggEncryptedShare {
    init(_ share: EncryptedShare, map: SecAggPartyMap) {
        self.init()
        sender = map.wire(share.sender)
        recipient = map.wire(share.recipient)
        ciphertext = share.ciphertext
    }

    func share(map: SecAggPartyMap, message: String) throws -> EncryptedShare {
        guard ciphertext.count <= maximumShareCiphertext else {
            throw ProtocolError.tooLarge(message: message, field: "shares.ciphertext", size: ciphertext.count, limit: maximumShareCiphertext)
        }
        return EncryptedShare(sender: try map.index(wire: sender), recipient: try map.index(wire: recipient), ciphertext: Array(ciphertext))
    }
}

/// Conversions between `SecureAggregation` messages and their wire forms. Party ids on the
/// wire are federation ids; the module's are indices (see ``SecAggPartyMap``).
public enum SecAggWire {
    public static func advertise(_ message: AdvertiseKeys, map: SecAggPartyMap) -> Wire.SecAggAdvertiseKeys {
        var wire = Wire.SecAggAdvertiseKeys()
        wire.sessionNonce = message.sessionNonce
        wire.keys = Wire.SecAggAdvertisedKeys(message.keys, map: map)
        return wire
    }

    /// - Parameters: sender: the authenticated sender (must match the keys' party).
    public static func advertise(_ wire: Wire.SecAggAdvertiseKeys, round: UInt64, sender: Int, map: SecAggPartyMap) throws -> AdvertiseKeys {
        let name = "SecAggAdvertiseKeys"
        guard wire.hasKeys, Int(wire.keys.party) == sender else {
            throw ProtocolError.malformed(message: name, field: "keys.party", reason: "must be the sender's id \(sender)")
        }
        guard wire.sessionNonce.count <= 64 else {
            throw ProtocolError.tooLarge(message: name, field: "session_nonce", size: wire.sessionNonce.count, limit: 64)
        }
        return AdvertiseKeys(round: round, sessionNonce: Array(wire.sessionNonce), keys: try wire.keys.keys(map: map, message: name))
    }

    public static func directory(_ message: KeyDirectory, map: SecAggPartyMap) -> Wire.SecAggKeyDirectory {
        var wire = Wire.SecAggKeyDirectory()
        wire.sessionID = message.sessionID
        wire.keys = message.keys.map { Wire.SecAggAdvertisedKeys($0, map: map) }
        return wire
    }

    public static func directory(_ wire: Wire.SecAggKeyDirectory, round: UInt64, map: SecAggPartyMap) throws -> KeyDirectory {
        let name = "SecAggKeyDirectory"
        guard wire.keys.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "keys", size: wire.keys.count, limit: map.parties.count)
        }
        return KeyDirectory(
            round: round, sessionID: try checkSession(wire.sessionID, name),
            keys: try wire.keys.map { try $0.keys(map: map, message: name) })
    }

    public static func shareKeys(_ message: ShareKeys, map: SecAggPartyMap) -> Wire.SecAggShareKeys {
        var wire = Wire.SecAggShareKeys()
        wire.sessionID = message.sessionID
        wire.shares = message.shares.map { Wire.SecAggEncryptedShare($0, map: map) }
        return wire
    }

    public static func shareKeys(_ wire: Wire.SecAggShareKeys, sender: Int, map: SecAggPartyMap) throws -> ShareKeys {
        let name = "SecAggShareKeys"
        guard wire.shares.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "shares", size: wire.shares.count, limit: map.parties.count)
        }
        let index = try map.index(of: sender)
        let shares = try wire.shares.map { try $0.share(map: map, message: name) }
        guard shares.allSatisfy({ $0.sender == index }) else {
            throw ProtocolError.malformed(message: name, field: "shares.sender", reason: "every share must come from the sender \(sender)")
        }
        return ShareKeys(sessionID: try checkSession(wire.sessionID, name), sender: index, shares: shares)
    }

    public static func forwarded(_ message: ForwardedShares, map: SecAggPartyMap) -> Wire.SecAggForwardedShares {
        var wire = Wire.SecAggForwardedShares()
        wire.sessionID = message.sessionID
        wire.shares = message.shares.map { Wire.SecAggEncryptedShare($0, map: map) }
        return wire
    }

    public static func forwarded(_ wire: Wire.SecAggForwardedShares, recipient: Int, map: SecAggPartyMap) throws -> ForwardedShares {
        let name = "SecAggForwardedShares"
        guard wire.shares.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "shares", size: wire.shares.count, limit: map.parties.count)
        }
        return ForwardedShares(
            sessionID: try checkSession(wire.sessionID, name), recipient: try map.index(of: recipient),
            shares: try wire.shares.map { try $0.share(map: map, message: name) })
    }

    /// Masked input in chunks of at most ``WireProtocol/maximumChunkPayload`` bytes of words.
    public static func maskedInputChunks(_ message: MaskedInput) -> [Wire.SecAggMaskedInputChunk] {
        let ranges = chunkRanges(count: message.vector.count, itemBytes: 8)
        return ranges.enumerated().map { index, range in
            var wire = Wire.SecAggMaskedInputChunk()
            wire.chunk = Wire.Chunk(index: index, total: ranges.count)
            wire.sessionID = message.sessionID
            wire.firstWord = UInt32(range.lowerBound)
            wire.wordCount = UInt32(message.vector.count)
            wire.words = Array(message.vector[range])
            return wire
        }
    }

    public static func survivorSet(_ message: SurvivorSet, map: SecAggPartyMap) -> Wire.SecAggSurvivorSet {
        var wire = Wire.SecAggSurvivorSet()
        wire.sessionID = message.sessionID
        wire.survivors = message.survivors.map { map.wire($0) }
        return wire
    }

    public static func survivorSet(_ wire: Wire.SecAggSurvivorSet, map: SecAggPartyMap) throws -> SurvivorSet {
        let name = "SecAggSurvivorSet"
        guard wire.survivors.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "survivors", size: wire.survivors.count, limit: map.parties.count)
        }
        return SurvivorSet(sessionID: try checkSession(wire.sessionID, name), survivors: try wire.survivors.map { try map.index(wire: $0) })
    }

    public static func survivorSignature(_ message: SurvivorSignature) -> Wire.SecAggSurvivorSignature {
        var wire = Wire.SecAggSurvivorSignature()
        wire.sessionID = message.sessionID
        wire.signature = message.signature
        return wire
    }

    /// - Parameters: sender: the authenticated sender.
    public static func survivorSignature(_ wire: Wire.SecAggSurvivorSignature, sender: Int, map: SecAggPartyMap) throws -> SurvivorSignature {
        let name = "SecAggSurvivorSignature"
        return SurvivorSignature(
            sessionID: try checkSession(wire.sessionID, name), sender: try map.index(of: sender),
            signature: try checkBlob(wire.signature, limit: maximumSignature, name, "signature"))
    }

    public static func unmaskingRequest(_ message: UnmaskingRequest, map: SecAggPartyMap) -> Wire.SecAggUnmaskingRequest {
        var wire = Wire.SecAggUnmaskingRequest()
        wire.sessionID = message.sessionID
        wire.alive = message.alive.map { map.wire($0) }
        wire.dead = message.dead.map { map.wire($0) }
        wire.signatures = message.signatures.map { signed in
            var entry = Wire.SecAggSignedSurvivors()
            entry.party = map.wire(signed.party)
            entry.signature = signed.signature
            return entry
        }
        return wire
    }

    public static func unmaskingRequest(_ wire: Wire.SecAggUnmaskingRequest, map: SecAggPartyMap) throws -> UnmaskingRequest {
        let name = "SecAggUnmaskingRequest"
        guard wire.alive.count + wire.dead.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "alive", size: wire.alive.count + wire.dead.count, limit: map.parties.count)
        }
        guard wire.signatures.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "signatures", size: wire.signatures.count, limit: map.parties.count)
        }
        let signatures = try wire.signatures.map {
            SignedSurvivor(party: try map.index(wire: $0.party), signature: try checkBlob($0.signature, limit: maximumSignature, name, "signatures.signature"))
        }
        return UnmaskingRequest(
            sessionID: try checkSession(wire.sessionID, name),
            alive: try wire.alive.map { try map.index(wire: $0) }, dead: try wire.dead.map { try map.index(wire: $0) },
            signatures: signatures)
    }

    public static func unmaskingResponse(_ message: UnmaskingResponse, map: SecAggPartyMap) -> Wire.SecAggUnmaskingResponse {
        func revealed(_ share: RevealedShare) -> Wire.SecAggRevealedShare {
            var wire = Wire.SecAggRevealedShare()
            wire.owner = map.wire(share.owner)
            wire.share = share.share
            return wire
        }
        var wire = Wire.SecAggUnmaskingResponse()
        wire.sessionID = message.sessionID
        wire.seedShares = message.seedShares.map(revealed)
        wire.maskKeyShares = message.maskKeyShares.map(revealed)
        return wire
    }

    public static func unmaskingResponse(_ wire: Wire.SecAggUnmaskingResponse, sender: Int, map: SecAggPartyMap) throws -> UnmaskingResponse {
        let name = "SecAggUnmaskingResponse"
        guard wire.seedShares.count + wire.maskKeyShares.count <= map.parties.count else {
            throw ProtocolError.tooLarge(message: name, field: "seed_shares", size: wire.seedShares.count + wire.maskKeyShares.count, limit: map.parties.count)
        }
        func revealed(_ share: Wire.SecAggRevealedShare) throws -> RevealedShare {
            guard share.share.count <= 256 else {
                throw ProtocolError.tooLarge(message: name, field: "share", size: share.share.count, limit: 256)
            }
            return RevealedShare(owner: try map.index(wire: share.owner), share: Array(share.share))
        }
        return UnmaskingResponse(
            sessionID: try checkSession(wire.sessionID, name), sender: try map.index(of: sender),
            seedShares: try wire.seedShares.map(revealed), maskKeyShares: try wire.maskKeyShares.map(revealed))
    }
}

/// Reassembles a chunked masked input.
public struct MaskedInputAssembler: Sendable {
    public let sender: Int
    public let expectedLength: Int
    private var chunks: ChunkAssembler<Int>
    private var sessionID: [UInt8]?
    public private(set) var words: [UInt64] = []

    public init(sender: Int, expectedLength: Int) {
        self.sender = sender
        self.expectedLength = expectedLength
        chunks = ChunkAssembler(message: "SecAggMaskedInputChunk from party \(sender)")
    }

    public var isComplete: Bool { chunks.isComplete && words.count == expectedLength }

    public mutating func append(_ wire: Wire.SecAggMaskedInputChunk) throws {
        let name = "SecAggMaskedInputChunk from party \(sender)"
        guard Int(wire.wordCount) == expectedLength else {
            throw ProtocolError.malformed(message: name, field: "word_count", reason: "expected \(expectedLength), found \(wire.wordCount)")
        }
        guard Int(wire.firstWord) == words.count, words.count + wire.words.count <= expectedLength else {
            throw ProtocolError.malformed(
                message: name, field: "first_word", reason: "expected \(words.count), found \(wire.firstWord) with \(wire.words.count) words")
        }
        let session = try checkSession(wire.sessionID, name)
        guard sessionID == nil || sessionID == session else {
            throw ProtocolError.malformed(message: name, field: "session_id", reason: "changed between chunks")
        }
        try chunks.append(wire.chunk, words.count)
        sessionID = session
        words += wire.words
        if chunks.isComplete, words.count != expectedLength {
            throw ProtocolError.malformed(message: name, field: "words", reason: "last chunk arrived with \(words.count) of \(expectedLength) words")
        }
    }

    /// The reassembled message (call once complete).
    public func message(map: SecAggPartyMap) throws -> MaskedInput {
        MaskedInput(sessionID: sessionID ?? [], sender: try map.index(of: sender), vector: words)
    }
}
