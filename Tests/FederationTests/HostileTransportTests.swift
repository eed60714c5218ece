import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Logging
import Primitives
import Synchronization
import Testing

@testable import Federation

/// A counter and flag that escaping closures can share.
final class SharedCount: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

/// Party engines as they stood when each party stopped (the secrets-in-logs test reads them).
final class EngineBox: Sendable {
    private let engines = Mutex<[Int: PartyRound]>([:])
    func put(_ engine: PartyRound) { engines.withLock { $0[engine.party] = engine } }
    var all: [Int: PartyRound] { engines.withLock { $0 } }
}

/// A party driven over the real transport like `PartyRuntime.run`, except that every envelope
/// it sends goes through `rewrite` (a hostile party), and its engine is handed to `keep` when it
/// stops. `dropAt` stops it (hangs up) before its first message of that phase.
func runLoopbackParty(
    kit: FederationKit, address: HostPort, ledger: PrivacyLedger, contribution: AttentionResult,
    limits: TransportLimits = .default, logger: Logger = Logger(label: "fedshare.test.party"), dropAt: RoundPhase? = nil,
    keep: EngineBox? = nil,
    rewrite: @escaping @Sendable (Fedshare_V1_PartyEnvelope) -> [Fedshare_V1_PartyEnvelope] = { [$0] }
) async -> Result<RoundOutcome, any Error> {
    do {
        guard let party = kit.partyID else { throw FederationError.configuration("not a party kit") }
        let connection = try PartyConnection(
            kit: kit, aggregator: address, limits: limits,
            retry: RetryPolicy(giveUpAfter: .seconds(10)), logger: logger)
        let engine = try PartyRound(
            party: party, manifest: kit.manifest, contribution: contribution,
            credentials: try kit.partyCredentials(), keyShare: kit.keyShare, publicKey: kit.thresholdPublicKey, options: .init(allowNoNoise: true))
        let bookkeeper = RoundBookkeeper(ledger: ledger)
        let mode = kit.manifest.crypto.mode
        return .success(
            try await connection.round(hello: Fedshare_V1_PartyEnvelope(engine.hello())) { stream in
                var engine = engine
                defer { keep?.put(engine) }
                var random = SecureRandom()
                for try await envelope in stream.messages {
                    let replies = engine.step(bookkeeper, using: &random) { $0.receive(Wire.AggregatorEnvelope(envelope), using: &$1) }
                    if case .aborted? = engine.outcome, let last = replies.last, case .error = last.body {
                        try? await stream.send(Fedshare_V1_PartyEnvelope(last))
                        return engine.outcome!
                    }
                    if let dropAt, replies.contains(where: { RoundPhase(of: $0.body, mode: mode).isAtOrAfter(dropAt) }) {
                        throw SimulatedDrop(party: party, phase: dropAt)
                    }
                    for reply in replies { for out in rewrite(Fedshare_V1_PartyEnvelope(reply)) { try await stream.send(out) } }
                    if let outcome = engine.outcome { return outcome }
                }
                return engine.outcome ?? .aborted(phase: engine.phase, reason: "the aggregator closed the stream", missing: [])
            })
    } catch {
        return .failure(error)
    }
}

/// An aggregator runtime and server on a loopback port, with the provisioned kits of parties 1…3.
struct LoopbackFederation: Sendable {
    let fixture: WireFixture
    let runtime: AggregatorRuntime
    let server: AggregatorServer
    let address: HostPort
    let kits: [Int: FederationKit]
    let ledgers: [Int: PrivacyLedger]

    static func contribution(_ party: Int) -> AttentionResult { TransportRoundTests.contribution(party) }

    /// Runs `body` with a federation whose server serves until `body` returns.
    static func with<T: Sendable>(
        mode: String = "paillier", limits: TransportLimits = .default, logger: Logger? = nil,
        fixture provisioned: WireFixture? = nil, committee: DecryptionCommittee = .threshold,
        tamper: (@Sendable (Int, Fedshare_V1_AggregatorEnvelope) -> [Fedshare_V1_AggregatorEnvelope])? = nil,
        _ body: @Sendable (LoopbackFederation) async throws -> T
    ) async throws -> T {
        // A provisioned fixture given by the caller is the caller's to remove.
        let fixture = try provisioned ?? WireFixture(parties: [1, 2, 3], threshold: 2, mode: mode)
        defer { if provisioned == nil { fixture.remove() } }
        if provisioned == nil { try fixture.provision() }
        let aggregatorKit = try fixture.kit(.aggregator)
        var options = AggregatorRuntime.Options()
        options.noNoise = true
        options.joinDeadline = .seconds(20)
        options.phaseDeadline = .seconds(20)
        options.tamper = tamper
        options.committee = committee
        let runtime = try AggregatorRuntime(
            kit: aggregatorKit, ledger: try PrivacyLedger(path: fixture.url("federation-ledger.sqlite").path),
            store: try RoundStore(path: fixture.url("rounds.sqlite").path), options: options,
            logger: logger ?? Logger(label: "fedshare.test.aggregator"))
        let server = try AggregatorServer(
            kit: aggregatorKit, listen: HostPort(host: "127.0.0.1", port: 0), limits: limits,
            logger: logger ?? Logger(label: "fedshare.test.transport"),
            sessions: runtime.sessionHandler, status: runtime.statusProvider)
        var kits: [Int: FederationKit] = [:]
        var ledgers: [Int: PrivacyLedger] = [:]
        for party in [1, 2, 3] {
            kits[party] = try fixture.kit(.party(party))
            ledgers[party] = try PrivacyLedger(path: fixture.url("party-\(party)-ledger.sqlite").path)
        }
        let frozenKits = kits
        let frozenLedgers = ledgers
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { server.shutdown() }
            let address = try await server.listeningAddress
            let federation = LoopbackFederation(
                fixture: fixture, runtime: runtime, server: server, address: address,
                kits: frozenKits, ledgers: frozenLedgers)
            let result = try await body(federation)
            server.shutdown()
            try await group.waitForAll()
            return result
        }
    }

    /// One round: the aggregator opens it, then each party runs `party` concurrently.
    func round(
        _ party: @escaping @Sendable (Int, LoopbackFederation) async -> Result<RoundOutcome, any Error>
    ) async throws -> (AggregatorRuntime.Report, [Int: Result<RoundOutcome, any Error>]) {
        async let report = runtime.runRound()
        // Parties dial once the round is open for joins.
        while await runtime.status().currentRound == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let outcomes = await withTaskGroup(of: (Int, Result<RoundOutcome, any Error>).self) { group in
            for id in [1, 2, 3] { group.addTask { (id, await party(id, self)) } }
            var all: [Int: Result<RoundOutcome, any Error>] = [:]
            for await (id, outcome) in group { all[id] = outcome }
            return all
        }
        return (try await report, outcomes)
    }

    /// An honest party `id`.
    func honest(_ id: Int, dropAt: RoundPhase? = nil, logger: Logger? = nil, keep: EngineBox? = nil) async -> Result<RoundOutcome, any Error> {
        await runLoopbackParty(
            kit: kits[id]!, address: address, ledger: ledgers[id]!, contribution: Self.contribution(id),
            logger: logger ?? Logger(label: "fedshare.test.party"), dropAt: dropAt, keep: keep)
    }
}

/// Checks a released result: contributors, the offender named with `reason`, the clear sum.
func expectLoopbackRelease(
    _ report: AggregatorRuntime.Report, contributors: [Int], offender: Int, reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let result = report.result else {
        Issue.record("expected a release, got \(report.outcome)", sourceLocation: sourceLocation)
        return
    }
    #expect(result.contributors == contributors, sourceLocation: sourceLocation)
    let named = result.dropped.first { $0.party == offender }
    #expect(named?.reason.contains(reason) == true, "\(result.dropped)", sourceLocation: sourceLocation)
    #expect(result.dropped.map(\.party) == [offender], "\(result.dropped)", sourceLocation: sourceLocation)
    var expected = [Double](repeating: 0, count: 4)
    for party in contributors { for i in 0..<4 { expected[i] += LoopbackFederation.contribution(party).matrix[i] } }
    for (value, want) in zip(result.matrix, expected) { #expect(abs(value - want) < 1e-6, sourceLocation: sourceLocation) }
}

@Suite("Hostile peers over loopback gRPC with mutual TLS", .serialized, .timeLimit(.minutes(2)))
struct HostileTransportTests {
    @Test("a flood of 10× oversized messages is refused from the length prefix; the party is cut off and named")
    func oversizedFlood() async throws {
        let limit = 64 << 10
        let attempts = SharedCount()
        let (report, outcomes) = try await LoopbackFederation.with(limits: TransportLimits(maxMessageBytes: limit)) { federation in
            try await federation.round { id, federation in
                guard id == 3 else { return await federation.honest(id) }
                // Party 3 says hello, then sends message after message ten times the limit
                // (its own limit is raised so that they leave it).
                return await runLoopbackParty(
                    kit: federation.kits[3]!, address: federation.address, ledger: federation.ledgers[3]!,
                    contribution: LoopbackFederation.contribution(3), limits: TransportLimits(maxMessageBytes: 64 << 20)
                ) { envelope in
                    guard case .accept = envelope.body else { return [envelope] }
                    var huge = envelope
                    huge.body = .contribution(.with { $0.ciphertexts = Data(count: 10 * limit) })
                    attempts.increment()
                    return [huge] + Array(repeating: huge, count: 49)
                }
            }
        }
        expectLoopbackRelease(report, contributors: [1, 2], offender: 3, reason: "larger than the 65536-byte limit")
        // The flood stopped at the transport: the stream was cut, so party 3 could not finish.
        switch outcomes[3] {
        case .failure(let error): #expect("\(error)".contains("closed the stream") || "\(error)".contains("cut"), "\(error)")
        case .success(let outcome): #expect(!outcome.isReleased, "party 3 ended with \(outcome)")
        case nil: Issue.record("no outcome for party 3")
        }
        #expect(attempts.count == 1)
    }

    @Test("a contribution recorded in round 1 and replayed in round 2 is refused; the round goes on without the party")
    func replayAcrossRounds() async throws {
        let recorded = EnvelopeRecorder()
        let (second, outcomes) = try await LoopbackFederation.with { federation in
            // Round 1: party 2 is honest, and its contribution is recorded.
            let (first, _) = try await federation.round { id, federation in
                guard id == 2 else { return await federation.honest(id) }
                return await runLoopbackParty(
                    kit: federation.kits[2]!, address: federation.address, ledger: federation.ledgers[2]!,
                    contribution: LoopbackFederation.contribution(2)
                ) { envelope in
                    recorded.record(envelope)
                    return [envelope]
                }
            }
            #expect(first.result?.contributors == [1, 2, 3])
            // Round 2: party 2 replays it instead of its own.
            return try await federation.round { id, federation in
                guard id == 2 else { return await federation.honest(id) }
                return await runLoopbackParty(
                    kit: federation.kits[2]!, address: federation.address, ledger: federation.ledgers[2]!,
                    contribution: LoopbackFederation.contribution(2)
                ) { envelope in
                    guard case .contribution = envelope.body,
                        let old = recorded.first(where: { if case .contribution = $0.body { return true } else { return false } })
                    else { return [envelope] }
                    return [old]
                }
            }
        }
        expectLoopbackRelease(second, contributors: [1, 3], offender: 2, reason: "message for round \(second.round - 1) during round \(second.round)")
        // The replaying party was told why.
        if case .success(.aborted(_, let reason, _)) = outcomes[2] {
            #expect(reason.contains("during round \(second.round)"), "\(reason)")
        } else {
            Issue.record("party 2 ended with \(String(describing: outcomes[2]))")
        }
    }

    @Test("a party cut off by the engine has its stream ended, even if it keeps sending")
    func cutOffPartyStreamEnds() async throws {
        let (report, outcomes) = try await LoopbackFederation.with { federation in
            try await federation.round { id, federation in
                guard id == 1 else { return await federation.honest(id) }
                // Party 1 sends a message for the wrong phase, then keeps streaming and ignores
                // what the aggregator says: it must be hung up on.
                do {
                    let connection = try PartyConnection(kit: federation.kits[1]!, aggregator: federation.address, retry: .never)
                    let digest = federation.kits[1]!.manifest.digest
                    let round = await federation.runtime.status().currentRound
                    let ending: String = try await connection.round(
                        hello: Fedshare_V1_PartyEnvelope(Envelopes.party(1, round: 0, manifestHash: digest, .hello(.init())))
                    ) { stream in
                        let ended = SharedCount()
                        let reader = Task { () -> String in
                            defer { ended.increment() }
                            do {
                                for try await _ in stream.messages {}
                                return "the stream ended without an error"
                            } catch {
                                return "\(error)"
                            }
                        }
                        let wrong = Fedshare_V1_PartyEnvelope(Envelopes.party(1, round: round, manifestHash: digest, .resultAck(.init())))
                        for _ in 0..<200 where ended.count == 0 {
                            do { try await stream.send(wrong) } catch { break }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        guard ended.count > 0 else {
                            reader.cancel()
                            return "the aggregator kept the stream open"
                        }
                        return await reader.value
                    }
                    return .failure(FederationError.streamFailed(address: "", reason: ending))
                } catch {
                    return .failure(error)
                }
            }
        }
        // It lands in join or, if parties 2 and 3 joined first, in contribute.
        expectLoopbackRelease(report, contributors: [2, 3], offender: 1, reason: "party 1 sent ResultAck during phase")
        guard case .failure(let error) = outcomes[1] else {
            Issue.record("party 1's stream stayed open: \(String(describing: outcomes[1]))")
            return
        }
        #expect("\(error)".contains("cut off"), "\(error)")
    }
}

extension RoundOutcome {
    var isReleased: Bool {
        if case .released = self { return true }
        return false
    }
}
