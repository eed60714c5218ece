import GRDB
import Primitives
import Synchronization
import Testing

@testable import Federation

/// The aggregator never carries on past a phase its round store could not record: a restart
/// settles an interrupted round's charge from the last recorded phase.
@Suite("A round store that cannot record a phase ends the round before the sum leaves")
struct RoundStoreFailureTests {
    @Test(arguments: ["paillier", "secagg"])
    func aFailedWriteAbortsAndCancelsTheCharge(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        var federation = try harness.federation()
        let storePath = harness.folder.path("rounds.sqlite")
        let broken = Mutex(false)
        let opening = Mutex(0)
        federation.rewrite = { party, envelope in
            switch envelope.body {
            case .contribution, .maskedInput:
                // The store breaks while the last contribution is on its way.
                if party == 3, !broken.withLock({ $0 }) {
                    try? DatabaseQueue(path: storePath).write { db in try db.execute(sql: "DROP TABLE rounds") }
                    broken.withLock { $0 = true }
                }
            case .partialDecryption, .unmaskingResponse:
                opening.withLock { $0 += 1 }
            default: break
            }
            return [envelope]
        }
        var random = SeededRandom(seed: 3)
        let report = try federation.run(using: &random)
        guard case .aborted(_, let reason, _) = report.aggregator else {
            Issue.record("expected an abort, got \(report.aggregator)")
            return
        }
        #expect(broken.withLock { $0 })
        #expect(reason.contains("cannot record the round's state"), "\(reason)")
        #expect(opening.withLock { $0 } == 0, "an opening share left although the round could not be recorded")
        let budget = try harness.aggregatorLedger.budget(dataset: harness.manifest.name)
        #expect(budget.releases == 0 && budget.pending == 0, "\(budget)")
    }
}

/// A party whose ledger cannot cancel its reservation after an abort keeps the charge held and
/// says so in how its round ended.
@Suite("A party's ledger failure after an abort is reported, never ignored")
struct PartyLedgerFailureTests {
    @Test func aReservationThatCannotBeCancelledIsNamed() throws {
        // Secure aggregation: party 1 reserves at open, advertises its keys, then parties 2 and
        // 3 drop before masking; the round aborts with nothing of party 1's data sent.
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        var federation = try harness.federation(drops: [2: .advertise, 3: .advertise])
        let ledgerPath = harness.folder.path("party-1-ledger.sqlite")
        federation.rewrite = { party, envelope in
            if party == 1, case .advertiseKeys = envelope.body {
                try? DatabaseQueue(path: ledgerPath).write { db in try db.execute(sql: "DROP TABLE entries") }
            }
            return [envelope]
        }
        var random = SeededRandom(seed: 5)
        let report = try federation.run(using: &random)
        guard case .aborted = report.aggregator, case .aborted(_, let reason, _)? = report.parties[1] else {
            Issue.record("expected aborts, got \(report.aggregator) and \(String(describing: report.parties[1]))")
            return
        }
        #expect(reason.contains("party 1's reservation") && reason.contains("stays held"), "\(reason)")
    }
}
