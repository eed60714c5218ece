import Arithmetic
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Paillier
import SwiftProtobuf

/// The two gRPC stream messages, decoded as the transport does (size check, then protobuf),
/// then each body through the validating conversions of FederationProtocol that turn wire
/// messages into engine values.
enum ProtobufTargets {
    /// The round's parties in the fuzzed messages: ids 1, 2, 3.
    static let map = try! SecAggPartyMap(parties: [1, 2, 3])

    static func partyEnvelope(_ bytes: [UInt8]) {
        guard (try? checkedSize(bytes.count, message: "PartyEnvelope")) != nil,
            let parsed = try? Fedshare_V1_PartyEnvelope(serializedBytes: bytes)
        else { return }
        roundTrip(parsed)
        let envelope = Wire.PartyEnvelope(parsed)
        let sender = Int(envelope.partyID)
        switch envelope.body {
        case .contribution(let chunk):
            ciphertexts(chunk.chunk, first: chunk.firstCiphertext, count: chunk.ciphertextCount, bytes: chunk.ciphertexts)
        case .partialDecryption(let chunk):
            partialDecryption(chunk, party: sender)
        case .advertiseKeys(let wire):
            if let message = try? SecAggWire.advertise(wire, round: envelope.roundID, sender: sender, map: map) {
                let again = try? SecAggWire.advertise(SecAggWire.advertise(message, map: map), round: envelope.roundID, sender: sender, map: map)
                invariant(again == message, "SecAggAdvertiseKeys changed on write and read")
            }
        case .shareKeys(let wire):
            if let message = try? SecAggWire.shareKeys(wire, sender: sender, map: map) {
                let again = try? SecAggWire.shareKeys(SecAggWire.shareKeys(message, map: map), sender: sender, map: map)
                invariant(again == message, "SecAggShareKeys changed on write and read")
            }
        case .maskedInput(let wire):
            var assembler = MaskedInputAssembler(sender: sender, expectedLength: Int(min(wire.wordCount, 4096)))
            if (try? assembler.append(wire)) != nil, assembler.isComplete {
                invariant(assembler.words == wire.words, "masked input words changed")
                _ = try? assembler.message(map: map)
            }
        case .unmaskingResponse(let wire):
            if let message = try? SecAggWire.unmaskingResponse(wire, sender: sender, map: map) {
                let again = try? SecAggWire.unmaskingResponse(SecAggWire.unmaskingResponse(message, map: map), sender: sender, map: map)
                invariant(again == message, "SecAggUnmaskingResponse changed on write and read")
            }
        case .survivorSignature(let wire):
            if let message = try? SecAggWire.survivorSignature(wire, sender: sender, map: map) {
                let again = try? SecAggWire.survivorSignature(SecAggWire.survivorSignature(message), sender: sender, map: map)
                invariant(again == message, "SecAggSurvivorSignature changed on write and read")
            }
        case .hello, .accept, .refuse, .commitAck, .resultAck, .error, .none:
            break
        }
    }

    static func aggregatorEnvelope(_ bytes: [UInt8]) {
        guard (try? checkedSize(bytes.count, message: "AggregatorEnvelope")) != nil,
            let parsed = try? Fedshare_V1_AggregatorEnvelope(serializedBytes: bytes)
        else { return }
        roundTrip(parsed)
        let envelope = Wire.AggregatorEnvelope(parsed)
        switch envelope.body {
        case .open(let open):
            _ = try? SecAggPartyMap(parties: open.parties.map { Int($0) })
            if open.hasLayout, let layout = try? open.layout.layout() {
                invariant((try? Wire.SlotLayout(layout).layout()) == layout, "SlotLayout changed on write and read")
            }
            if open.hasCost, let event = try? open.cost.event(), let relation = try? open.cost.neighbouringRelation() {
                let wire = Wire.PrivacyCost(
                    event, relation: relation, unit: open.cost.unit,
                    epsilon: open.cost.epsilon, delta: open.cost.delta)
                invariant((try? wire.event()) == event, "PrivacyCost changed on write and read")
            }
            // An analyst's request, as every party decodes it before checking its signature.
            if open.hasRequest, let request = try? RoundRequest(serialized: open.request.request) {
                let again = try? RoundRequest(serialized: request.serialized())
                invariant(again == request, "RoundRequest changed on write and read")
            }
        case .encryptedSum(let chunk):
            ciphertexts(chunk.chunk, first: chunk.firstCiphertext, count: chunk.ciphertextCount, bytes: chunk.ciphertexts)
        case .relayedContribution(let relay):
            let chunk = relay.contribution
            ciphertexts(chunk.chunk, first: chunk.firstCiphertext, count: chunk.ciphertextCount, bytes: chunk.ciphertexts)
        case .survivorSet(let wire):
            if let message = try? SecAggWire.survivorSet(wire, map: map) {
                let again = try? SecAggWire.survivorSet(SecAggWire.survivorSet(message, map: map), map: map)
                invariant(again == message, "SecAggSurvivorSet changed on write and read")
            }
        case .keyDirectory(let wire):
            if let message = try? SecAggWire.directory(wire, round: envelope.roundID, map: map) {
                let again = try? SecAggWire.directory(SecAggWire.directory(message, map: map), round: envelope.roundID, map: map)
                invariant(again == message, "SecAggKeyDirectory changed on write and read")
            }
        case .forwardedShares(let wire):
            for recipient in map.parties {
                if let message = try? SecAggWire.forwarded(wire, recipient: recipient, map: map) {
                    let again = try? SecAggWire.forwarded(SecAggWire.forwarded(message, map: map), recipient: recipient, map: map)
                    invariant(again == message, "SecAggForwardedShares changed on write and read")
                }
            }
        case .unmaskingRequest(let wire):
            if let message = try? SecAggWire.unmaskingRequest(wire, map: map) {
                let again = try? SecAggWire.unmaskingRequest(SecAggWire.unmaskingRequest(message, map: map), map: map)
                invariant(again == message, "SecAggUnmaskingRequest changed on write and read")
            }
        case .result(let chunk):
            if chunk.hasHeader, chunk.header.hasCharge {
                _ = try? chunk.header.charge.event()
                _ = try? chunk.header.charge.neighbouringRelation()
            }
        case .welcome, .abort, .error, .none:
            break
        }
    }

    /// Serialize → parse is stable: a parsed message may first be normalised (a singular field
    /// seen twice is merged, unknown fields are regrouped), after which serialize → parse →
    /// serialize gives the same bytes (unknown fields included). Bytes, not `==`: a double field
    /// may hold a NaN, which is never equal to itself. (The schema has no map fields, so
    /// serialization is deterministic.)
    static func roundTrip<M: SwiftProtobuf.Message>(_ message: M) {
        guard let bytes: [UInt8] = try? message.serializedBytes(), let normalised = try? M(serializedBytes: bytes),
            let again: [UInt8] = try? normalised.serializedBytes()
        else {
            invariant(false, "\(M.self) parsed but does not serialize and parse back")
            return
        }
        let reparsed = try? M(serializedBytes: again)
        let thrice: [UInt8]? = try? reparsed?.serializedBytes()
        invariant(thrice == again, "\(M.self) changed on serialize and parse")
    }

    /// A chunk of a ciphertext batch under the threshold fixture's key (its first chunk, as the
    /// aggregator sees it; the announced count is capped so the harness stays fast).
    static func ciphertexts(_ chunk: Wire.Chunk, first: UInt32, count: UInt32, bytes: [UInt8]) {
        let key = Fixtures.thresholdKey.paillierKey
        var assembler = CiphertextBatchAssembler(message: "fuzz", key: key, expectedCount: Int(min(count, 64)))
        guard (try? assembler.append(chunk: chunk, first: first, count: count, bytes: bytes)) != nil else { return }
        invariant(assembler.ciphertexts.count <= assembler.expectedCount, "more ciphertexts than announced")
        if assembler.isComplete {
            invariant(CiphertextBatchCodec.encode(assembler.ciphertexts, key: key) == Array(bytes), "batch re-encodes differently")
        }
    }

    /// A partial decryption from `party` for the fixture batch: reassembled, then combined with
    /// two honest shares; if the combiner accepts it the plaintext must still be 7.
    static func partialDecryption(_ chunk: Wire.PartialDecryptionChunk, party: Int) {
        let key = Fixtures.thresholdKey!
        var assembler = PartialDecryptionAssembler(
            party: party, key: key, expectedCount: Int(min(chunk.valueCount, 64)),
            context: Fixtures.context)
        guard (try? assembler.append(chunk)) != nil, assembler.isComplete, let share = try? assembler.share() else { return }
        invariant(share.values.count == assembler.expectedCount, "share sizes")
        guard share.values.count == Fixtures.batch.count else { return }
        let others = Fixtures.decryptionShares.filter { $0.party != party }.prefix(2)
        if let combined = try? key.combine([share] + others, for: Fixtures.batch, context: Fixtures.context) {
            invariant(combined.plaintexts == [7], "a combination with party \(party)'s share gives \(combined.plaintexts)")
        }
    }
}
