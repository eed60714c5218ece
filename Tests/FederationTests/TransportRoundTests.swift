import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Synchronization
import Testing

@testable import Federation

@Suite("A whole round over loopback gRPC with mutual TLS", .timeLimit(.minutes(2)))
struct TransportRoundTests {
    /// Party p's local matrix: distinct, easy-to-sum values.
    static func contribution(_ party: Int) -> AttentionResult {
        AttentionResult(
            groups: ["a", "b"], anchors: ["sports", "music"],
            matrix: [0.25 * Double(party), 1.5, 2.0 + Double(party), 0.125], counts: [party, 2 * party])
    }

    func runRound(
        drops: [Int: RoundPhase], progress: (@Sendable (Int, PartyRuntime.Progress) -> Void)? = nil
    ) async throws -> (AggregatorRuntime.Report, [Int: Result<RoundOutcome, any Error>]) {
        let fixture = try WireFixture(parties: [1, 2, 3], threshold: 2)
        defer { fixture.remove() }
        let (runtime, server) = try fixture.loopbackAggregator()
        let kits = try [1, 2, 3].map { try fixture.kit(.party($0)) }
        let ledgers = try [1, 2, 3].map { try PrivacyLedger(path: fixture.url("party-\($0)-ledger.sqlite").path) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let address = try await server.listeningAddress
            async let report = runtime.runRound()
            let outcomes = await withTaskGroup(of: (Int, Result<RoundOutcome, any Error>).self) { parties in
                for (index, kit) in kits.enumerated() {
                    let party = index + 1
                    if drops[party] == .join {
                        await runtime.partyLeft(party, reason: "never connected")
                        continue
                    }
                    let reporter: (@Sendable (PartyRuntime.Progress) -> Void)?
                    if let progress { reporter = { @Sendable step in progress(party, step) } } else { reporter = nil }
                    parties.addTask {
                        do {
                            let connection = try PartyConnection(kit: kit, aggregator: address)
                            return (
                                party,
                                .success(
                                    try await PartyRuntime.run(
                                        kit: kit, connection: connection, contribution: Self.contribution(party), ledger: ledgers[index],
                                        options: .init(allowNoNoise: true), dropAt: drops[party], progress: reporter))
                            )
                        } catch {
                            return (party, .failure(error))
                        }
                    }
                }
                var all: [Int: Result<RoundOutcome, any Error>] = [:]
                for await (party, outcome) in parties { all[party] = outcome }
                return all
            }
            let finished = try await report
            server.shutdown()
            try await group.waitForAll()
            return (finished, outcomes)
        }
    }

    @Test("three parties reach the clear sum (no noise)")
    func allParties() async throws {
        let (report, outcomes) = try await runRound(drops: [:])
        let result = try #require(report.result)
        #expect(result.contributors == [1, 2, 3])
        let expected = [1, 2, 3].map(Self.contribution).reduce(into: [Double](repeating: 0, count: 4)) { sum, c in
            for i in 0..<4 { sum[i] += c.matrix[i] }
        }
        for (value, want) in zip(result.matrix, expected) { #expect(abs(value - want) < 1e-6) }
        #expect(result.counts == [6, 12])
        for party in [1, 2, 3] {
            guard case .success(.released(let partyResult)) = outcomes[party] else {
                Issue.record("party \(party): \(String(describing: outcomes[party]))")
                continue
            }
            #expect(partyResult.sums == result.sums)
        }
    }

    @Test("each party reports its long steps as they advance: encrypting, then (the t asked) partial decryption, each to the end")
    func reportsWork() async throws {
        let steps = Mutex([Int: [(PartyRound.Work, Int, Int)]]())
        let (report, _) = try await runRound(drops: [:]) { party, progress in
            if case .working(let work, let done, let total) = progress { steps.withLock { $0[party, default: []].append((work, done, total)) } }
        }
        #expect(try #require(report.result).contributors == [1, 2, 3])
        var decrypted: [Int] = []
        for party in [1, 2, 3] {
            let seen = steps.withLock { $0[party] ?? [] }
            #expect(seen.map(\.0).first == .encrypting, "party \(party): \(seen)")
            for work in [PartyRound.Work.encrypting, .partialDecryption] {
                let reports = seen.filter { $0.0 == work }
                // Only the decryption committee (t = 2 of the 3 contributors) decrypts.
                if work == .partialDecryption, reports.isEmpty { continue }
                let total = try #require(reports.first?.2, "party \(party) never reported \(work.rawValue)")
                #expect(total > 0 && reports.allSatisfy { $0.2 == total && (1...total).contains($0.1) })
                #expect(reports.filter { $0.1 == total }.count == 1, "party \(party): \(work.rawValue) ends once: \(reports)")
            }
            if let first = seen.firstIndex(where: { $0.0 == .partialDecryption }) {
                decrypted.append(party)
                #expect(seen.lastIndex { $0.0 == .encrypting }! < first)
            }
        }
        #expect(decrypted.count == 2, "parties that decrypted: \(decrypted)")
    }

    @Test("a party that dies at contribute is left out; the round completes with t = 2")
    func dropAtContribute() async throws {
        let (report, _) = try await runRound(drops: [3: .contribute])
        let result = try #require(report.result)
        #expect(result.contributors == [1, 2])
        #expect(result.dropped.map(\.party) == [3])
        #expect(result.counts == [3, 6])
    }
}

extension WireFixture {
    /// A provisioned aggregator runtime without noise (20 s deadlines) and its server on a free
    /// loopback port, for tests that run whole rounds over the real transport.
    func loopbackAggregator() throws -> (runtime: AggregatorRuntime, server: AggregatorServer) {
        try provision()
        let aggregatorKit = try kit(.aggregator)
        var options = AggregatorRuntime.Options()
        options.noNoise = true
        options.joinDeadline = .seconds(20)
        options.phaseDeadline = .seconds(20)
        let runtime = try AggregatorRuntime(
            kit: aggregatorKit, ledger: try PrivacyLedger(path: url("federation-ledger.sqlite").path),
            store: try RoundStore(path: url("rounds.sqlite").path), options: options)
        let server = try AggregatorServer(
            kit: aggregatorKit, listen: HostPort(host: "127.0.0.1", port: 0),
            sessions: runtime.sessionHandler, status: runtime.statusProvider)
        return (runtime, server)
    }
}
