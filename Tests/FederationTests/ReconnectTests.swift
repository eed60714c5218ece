import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Testing

@testable import Federation

@Suite("Parties that arrive early or lose their aggregator", .timeLimit(.minutes(2)))
struct ReconnectTests {
    /// Parties dial before the aggregator opens its round (as after a restart, or between
    /// rounds): they wait for the round instead of being refused, and all three contribute.
    /// On the code before the fix the aggregator refused them ("no round is open for joins",
    /// PERMISSION_DENIED) and each party gave up.
    @Test func partiesArrivingBeforeTheRoundOpensWaitForIt() async throws {
        let fixture = try WireFixture(parties: [1, 2, 3], threshold: 2)
        defer { fixture.remove() }
        let (runtime, server) = try fixture.loopbackAggregator()
        let kits = try [1, 2, 3].map { try fixture.kit(.party($0)) }
        let ledgers = try [1, 2, 3].map { try PrivacyLedger(path: fixture.url("party-\($0)-ledger.sqlite").path) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let address = try await server.listeningAddress
            let parties = Task {
                try await withThrowingTaskGroup(of: (Int, RoundOutcome).self) { parties in
                    for (index, kit) in kits.enumerated() {
                        parties.addTask {
                            let connection = try PartyConnection(kit: kit, aggregator: address)
                            return (
                                index + 1,
                                try await PartyRuntime.run(
                                    kit: kit, connection: connection, contribution: TransportRoundTests.contribution(index + 1),
                                    ledger: ledgers[index], options: .init(allowNoNoise: true), reconnects: 0)
                            )
                        }
                    }
                    var all: [Int: RoundOutcome] = [:]
                    for try await (party, outcome) in parties { all[party] = outcome }
                    return all
                }
            }
            // Let every party connect while no round is open.
            try await Task.sleep(for: .seconds(1))
            let report = try await runtime.runRound()
            let outcomes = try await parties.value
            let result = try #require(report.result, "\(report.outcome)")
            #expect(result.contributors == [1, 2, 3])
            for party in [1, 2, 3] {
                guard case .released = outcomes[party] else {
                    Issue.record("party \(party): \(String(describing: outcomes[party]))")
                    continue
                }
            }
            await runtime.close()
            server.shutdown()
            try await group.waitForAll()
        }
    }
}
