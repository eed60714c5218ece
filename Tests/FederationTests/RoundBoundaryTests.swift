import FederationProtocol
import Foundation
import Primitives
import Testing

@testable import Federation

/// A stream belongs to the round it joined: what it sends or how it ends once the next round
/// has started is not the new round's business.
@Suite("Round boundaries over loopback gRPC", .serialized, .timeLimit(.minutes(2)))
struct RoundBoundaryTests {
    @Test("a party that hangs up on round 1 late (after round 2 opened) is not dropped from round 2")
    func lateHangUpDoesNotTouchTheNextRound() async throws {
        try await LoopbackFederation.with(mode: "paillier") { federation in
            let runtime = federation.runtime
            async let first = runtime.runRound()
            let round1 = try await openRound(federation, after: 0)
            // Parties 1 and 2 run round 1 normally; party 3 keeps its stream open after the
            // release until round 2 is open, then sends its acknowledgement again and hangs up.
            async let one = federation.honest(1)
            async let two = federation.honest(2)
            async let lingering = lingeringParty(federation, round: round1)
            let report1 = try await first
            #expect(report1.result?.contributors == [1, 2, 3], "\(report1.outcome)")
            _ = await (one, two)

            async let second = runtime.runRound()
            let round2 = try await openRound(federation, after: round1)
            #expect(try await lingering == true)
            // The late acknowledgement and the hang-up reached the aggregator during round 2's join.
            try await Task.sleep(for: .milliseconds(300))
            let status = try await PartyConnection(kit: federation.kits[1]!, aggregator: federation.address).status()
            #expect(status.currentRound == round2)
            async let one2 = federation.honest(1)
            async let two2 = federation.honest(2)
            async let three2 = federation.honest(3)
            let report2 = try await second
            _ = await (one2, two2, three2)
            let result = try #require(report2.result, "\(report2.outcome)")
            #expect(result.contributors == [1, 2, 3])
            #expect(result.dropped.isEmpty, "\(result.dropped)")
        }
    }

    /// Waits until the runtime has a round open other than `previous`; returns its id.
    func openRound(_ federation: LoopbackFederation, after previous: UInt64) async throws -> UInt64 {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let current = await federation.runtime.status().currentRound
            if current != 0, current != previous { return current }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw FederationError.configuration("no round opened after round \(previous)")
    }

    /// Party 3 through round `round` by its engine, holding the stream after the release until
    /// the next round is open; true when it was released.
    func lingeringParty(_ federation: LoopbackFederation, round: UInt64) async throws -> Bool {
        let kit = federation.kits[3]!
        let engine = try PartyRound(
            party: 3, manifest: kit.manifest, contribution: LoopbackFederation.contribution(3), credentials: try kit.partyCredentials(),
            keyShare: kit.keyShare, publicKey: kit.thresholdPublicKey, options: .init(allowNoNoise: true))
        let connection = try PartyConnection(kit: kit, aggregator: federation.address)
        let runtime = federation.runtime
        let bookkeeper = RoundBookkeeper(ledger: federation.ledgers[3]!)
        return try await connection.round(hello: Fedshare_V1_PartyEnvelope(engine.hello())) { stream in
            var engine = engine
            var random = SecureRandom()
            var last: Fedshare_V1_PartyEnvelope?
            for try await envelope in stream.messages {
                for reply in engine.step(bookkeeper, using: &random, { $0.receive(Wire.AggregatorEnvelope(envelope), using: &$1) }) {
                    last = Fedshare_V1_PartyEnvelope(reply)
                    try await stream.send(last!)
                }
                if engine.outcome != nil { break }
            }
            while [0, round].contains(await runtime.status().currentRound) { try await Task.sleep(for: .milliseconds(5)) }
            if let last { try await stream.send(last) }
            if case .released = engine.outcome { return true }
            return false
        }
    }
}
