import Arithmetic
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Paillier
import Primitives
import SecureAggregation
import Testing

/// Plain messages as they cross the wire: serialized as protobuf and parsed back.
extension Wire.PrivacyCost {
    func overTheWire() throws -> Self { Self(try Fedshare_V1_PrivacyCost(serializedBytes: try Fedshare_V1_PrivacyCost(self).serializedBytes() as [UInt8])) }
}

extension Wire.ContributionChunk {
    func overTheWire() throws -> Self {
        Self(try Fedshare_V1_ContributionChunk(serializedBytes: try Fedshare_V1_ContributionChunk(self).serializedBytes() as [UInt8]))
    }
}

extension Wire.PartialDecryptionChunk {
    func overTheWire() throws -> Self {
        Self(try Fedshare_V1_PartialDecryptionChunk(serializedBytes: try Fedshare_V1_PartialDecryptionChunk(self).serializedBytes() as [UInt8]))
    }
}

@Suite("FederationProtocol conversions")
struct ProtocolConversionTests {
    @Test func privacyCostRoundTrip() throws {
        let event = MechanismEvent(mechanism: .discreteGaussian, noise: 1.5e11, sensitivity: 2.6e10, dimension: 15, shares: 2, count: 1)
        let wire = Wire.PrivacyCost(event, relation: .addOrRemoveOne, unit: "user", epsilon: 1, delta: 1e-6)
        let parsed = try wire.overTheWire()
        #expect(try parsed.event() == event)
        #expect(try parsed.neighbouringRelation() == .addOrRemoveOne)
        var bad = wire
        bad.mechanism = "cauchy"
        #expect(throws: ProtocolError.self) { try bad.event() }
        bad = wire
        bad.noise = -1
        #expect(throws: ProtocolError.self) { try bad.event() }
        bad = wire
        bad.dimension = 0
        #expect(throws: ProtocolError.self) { try bad.event() }
    }

    @Test func slotLayoutRoundTripAndDerivedFieldsChecked() throws {
        let layout = try SlotLayout(valueBound: 1 << 40, noiseBound: 1 << 30, parties: 5, modulusBits: 2048)
        let wire = Wire.SlotLayout(layout)
        #expect(try wire.layout() == layout)
        var bad = wire
        bad.slotsPerPlaintext += 1
        #expect(throws: ProtocolError.self) { try bad.layout() }
        bad = wire
        bad.parties = 0
        #expect(throws: ProtocolError.self) { try bad.layout() }
    }

    @Test func chunkAssemblerRefusesDisorder() throws {
        var assembler = ChunkAssembler<Int>(message: "test")
        try assembler.append(Wire.Chunk(index: 0, total: 3), 0)
        #expect(throws: ProtocolError.self) { try assembler.append(Wire.Chunk(index: 2, total: 3), 2) }
        #expect(throws: ProtocolError.self) { try assembler.append(Wire.Chunk(index: 1, total: 4), 1) }
        #expect(throws: ProtocolError.self) { try assembler.append(Wire.Chunk(index: 0, total: 3), 0) }
        try assembler.append(Wire.Chunk(index: 1, total: 3), 1)
        try assembler.append(Wire.Chunk(index: 2, total: 3), 2)
        #expect(assembler.isComplete)
        #expect(throws: ProtocolError.self) { try assembler.append(Wire.Chunk(index: 3, total: 3), 3) }
        var huge = ChunkAssembler<Int>(message: "test")
        #expect(throws: ProtocolError.self) { try huge.append(Wire.Chunk(index: 0, total: WireProtocol.maximumChunks + 1), 0) }
    }

    @Test func chunksStayUnderTheMessageLimit() throws {
        let ranges = chunkRanges(count: 1_000_000, itemBytes: 8)
        #expect(ranges.count == 8)
        #expect(ranges.allSatisfy { $0.count * 8 <= WireProtocol.maximumChunkPayload })
        #expect(ranges.map(\.count).reduce(0, +) == 1_000_000)
    }

    @Test func ciphertextChunksRoundTripAndValidate() throws {
        let dealing = try TestKeys.shared.dealing(threshold: 2, parties: 3)
        let key = dealing.publicKey.paillierKey
        let ciphertexts = try key.encrypt(batch: (0..<5).map { BigInt($0 * 1000 + 1) })
        let chunks = CiphertextChunking.contributionChunks(ciphertexts, key: key)
        var assembler = CiphertextBatchAssembler(message: "test", key: key, expectedCount: 5)
        for chunk in chunks {
            let parsed = try chunk.overTheWire()
            try assembler.append(chunk: parsed.chunk, first: parsed.firstCiphertext, count: parsed.ciphertextCount, bytes: parsed.ciphertexts)
        }
        #expect(assembler.isComplete)
        #expect(assembler.ciphertexts == ciphertexts)

        // A ciphertext outside Z*_{n²} (here 0) is refused, naming the element.
        var bytes = [UInt8](chunks[0].ciphertexts)
        let header = 45
        for i in header..<(header + key.ciphertextByteCount) { bytes[i] = 0 }
        var tampered = CiphertextBatchAssembler(message: "test", key: key, expectedCount: 5)
        #expect(throws: ProtocolError.self) {
            try tampered.append(chunk: chunks[0].chunk, first: 0, count: 5, bytes: bytes)
        }
        // The wrong announced count is refused before decoding.
        var wrongCount = CiphertextBatchAssembler(message: "test", key: key, expectedCount: 4)
        #expect(throws: ProtocolError.self) {
            try wrongCount.append(chunk: chunks[0].chunk, first: 0, count: 5, bytes: chunks[0].ciphertexts)
        }
    }

    @Test func partialDecryptionRoundTrip() throws {
        let dealing = try TestKeys.shared.dealing(threshold: 2, parties: 3)
        let key = dealing.publicKey
        let ciphertexts = try key.paillierKey.encrypt(batch: [BigInt(7), BigInt(11), BigInt(13)])
        var random = SeededRandom(seed: 1)
        let context: [UInt8] = Array("round 1".utf8)
        var shares: [ThresholdDecryptionShare] = []
        for party in [1, 3] {
            let share = try dealing.shares[party - 1].decryptionShare(for: ciphertexts, publicKey: key, context: context, using: &random)
            var assembler = PartialDecryptionAssembler(party: party, key: key, expectedCount: 3, context: context)
            for chunk in PartialDecryptionChunking.chunks(share, key: key) {
                try assembler.append(try chunk.overTheWire())
            }
            let back = try assembler.share()
            #expect(back == share)
            shares.append(back)
        }
        let combined = try key.combine(shares, for: ciphertexts, context: context)
        #expect(combined.plaintexts == [BigInt(7), BigInt(11), BigInt(13)])

        // Another context is refused at reassembly.
        let share = try dealing.shares[0].decryptionShare(for: ciphertexts, publicKey: key, context: context, using: &random)
        var other = PartialDecryptionAssembler(party: 1, key: key, expectedCount: 3, context: Array("round 2".utf8))
        #expect(throws: ProtocolError.self) { try other.append(PartialDecryptionChunking.chunks(share, key: key)[0]) }
        // Oversized values are refused before they are read.
        var big = PartialDecryptionChunking.chunks(share, key: key)[0]
        big.values[0] = [UInt8](repeating: 0xff, count: key.paillierKey.ciphertextByteCount + 1)
        var sized = PartialDecryptionAssembler(party: 1, key: key, expectedCount: 3, context: context)
        #expect(throws: ProtocolError.self) { try sized.append(big) }
    }

    /// The batch proof travels once, in the first chunk; a share long enough for several chunks
    /// reassembles, and a proof missing from chunk 0 or repeated in a later chunk is refused.
    @Test func partialDecryptionBatchProofTravelsInTheFirstChunkOnly() throws {
        let dealing = try TestKeys.shared.dealing(threshold: 2, parties: 3)
        let key = dealing.publicKey
        // The assembler checks sizes and headers, not the proof: placeholder values suffice.
        let count = WireProtocol.maximumChunkPayload / key.paillierKey.ciphertextByteCount + 5
        let values = (0..<count).map { BigInt($0 + 2) }
        let context: [UInt8] = Array("round 9".utf8)
        let share = ThresholdDecryptionShare(
            party: 2, keyID: key.keyID, context: context, batchDigest: [UInt8](repeating: 7, count: 32), values: values,
            proof: ThresholdDecryptionProof(challenge: BigInt(12345), response: BigInt(67890)))
        let chunks = PartialDecryptionChunking.chunks(share, key: key)
        #expect(chunks.count >= 2)
        #expect(chunks[0].hasBatchProof && chunks.dropFirst().allSatisfy { !$0.hasBatchProof })
        var assembler = PartialDecryptionAssembler(party: 2, key: key, expectedCount: count, context: context)
        for chunk in chunks {
            try assembler.append(try chunk.overTheWire())
        }
        #expect(try assembler.share() == share)

        var missing = chunks[0]
        missing.clearBatchProof()
        var first = PartialDecryptionAssembler(party: 2, key: key, expectedCount: count, context: context)
        #expect(throws: ProtocolError.self) { try first.append(missing) }

        var repeated = chunks[1]
        repeated.batchProof = chunks[0].batchProof
        var second = PartialDecryptionAssembler(party: 2, key: key, expectedCount: count, context: context)
        try second.append(chunks[0])
        #expect(throws: ProtocolError.self) { try second.append(repeated) }

        var oversized = chunks[0]
        oversized.batchProof.response = [UInt8](repeating: 0xff, count: 2 * key.paillierKey.ciphertextByteCount + 129)
        var third = PartialDecryptionAssembler(party: 2, key: key, expectedCount: count, context: context)
        #expect(throws: ProtocolError.self) { try third.append(oversized) }
    }

    @Test func secAggMessagesRoundTripWithFederationIDs() throws {
        let map = try SecAggPartyMap(parties: [2, 5, 9])
        let keys = AdvertisedKeys(party: 1, maskPublicKey: [UInt8](repeating: 1, count: 32), channelPublicKey: [UInt8](repeating: 2, count: 32))
        let advertise = AdvertiseKeys(round: 4, sessionNonce: [9, 9], keys: keys)
        let wire = SecAggWire.advertise(advertise, map: map)
        #expect(wire.keys.party == 5)
        #expect(try SecAggWire.advertise(wire, round: 4, sender: 5, map: map) == advertise)
        // The keys must be the sender's own.
        #expect(throws: ProtocolError.self) { try SecAggWire.advertise(wire, round: 4, sender: 2, map: map) }
        var short = wire
        short.keys.maskPublicKey = [1, 2, 3]
        #expect(throws: ProtocolError.self) { try SecAggWire.advertise(short, round: 4, sender: 5, map: map) }

        let shares = ShareKeys(sessionID: [1], sender: 0, shares: [EncryptedShare(sender: 0, recipient: 2, ciphertext: [7])])
        let shareWire = SecAggWire.shareKeys(shares, map: map)
        #expect(shareWire.shares[0].recipient == 9)
        #expect(try SecAggWire.shareKeys(shareWire, sender: 2, map: map) == shares)
        #expect(throws: ProtocolError.self) { try SecAggWire.shareKeys(shareWire, sender: 5, map: map) }

        let request = UnmaskingRequest(sessionID: [1], alive: [0, 2], dead: [1])
        #expect(try SecAggWire.unmaskingRequest(SecAggWire.unmaskingRequest(request, map: map), map: map) == request)
        var unknown = SecAggWire.unmaskingRequest(request, map: map)
        unknown.dead = [4]
        #expect(throws: ProtocolError.self) { try SecAggWire.unmaskingRequest(unknown, map: map) }

        let masked = MaskedInput(sessionID: [3], sender: 1, vector: (0..<300_000).map { UInt64($0) &* 0x9e37_79b9_7f4a_7c15 })
        let chunks = SecAggWire.maskedInputChunks(masked)
        #expect(chunks.count == 3)
        var assembler = MaskedInputAssembler(sender: 5, expectedLength: 300_000)
        for chunk in chunks { try assembler.append(chunk) }
        #expect(try assembler.message(map: map) == masked)
        var wrongLength = MaskedInputAssembler(sender: 5, expectedLength: 10)
        #expect(throws: ProtocolError.self) { try wrongLength.append(chunks[0]) }
    }
}
