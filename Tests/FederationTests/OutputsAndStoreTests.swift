import Attention
import DifferentialPrivacy
import Foundation
import Primitives
import Testing

@testable import Federation

@Suite("Outputs and durable round state")
struct OutputsAndStoreTests {
    @Test func writesEveryOutputFile() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        let report = try harness.run(drops: [3: .join], noNoise: false)
        let result = try #require(report.result)
        let out = harness.folder.url.appendingPathComponent("out")
        let capacities = try Allocation.readCapacities(from: threeWorlds.appendingPathComponent("capacities.csv"))
        let plan = try RoundPlan(manifest: harness.manifest)
        let summary = try RoundOutputs.write(result, plan: plan, to: out, capacities: capacities, phaseSeconds: report.phaseSeconds)
        for name in RoundOutputs.fileNames {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
        }
        let attention = try LabelledMatrix.read(from: out.appendingPathComponent("attention.csv"))
        #expect(attention.rowLabels == harness.manifest.attention.groups)
        #expect(attention.columnLabels == harness.manifest.model.anchorNames)
        let json = try JSONDecoder().decode(RoundOutputs.Summary.self, from: Data(contentsOf: out.appendingPathComponent("result.json")))
        #expect(json == summary)
        #expect(json.mode == "secagg")
        #expect(json.partiesContributed == [1, 2])
        #expect(json.dropped.map(\.party) == [3])
        #expect(json.dropped.first?.phase == "join")
        #expect(json.noNoise == false)
        #expect(json.ledgerEntryID == result.ledgerEntryID)
        #expect(json.privacyCost.mechanism == "discrete_gaussian")
        let svg = try String(contentsOf: out.appendingPathComponent("heatmap.svg"), encoding: .utf8)
        for label in harness.manifest.attention.groups + harness.manifest.model.anchorNames + ["group", "anchor", "linearGradient"] {
            #expect(svg.contains(label), "\(label)")
        }
        let allocation = try String(contentsOf: out.appendingPathComponent("allocation.csv"), encoding: .utf8)
        #expect(allocation.hasPrefix("node,kind,capacity,share,allocation"))
        #expect(allocation.split(separator: "\n").count == capacities.count + 1)
    }

    @Test func aReleasedRoundIsNeverReleasedTwice() throws {
        let folder = try TemporaryFolder()
        let store = try RoundStore(path: folder.path("rounds.sqlite"))
        let record = RoundStore.Record(
            round: 1, mode: "paillier", phase: "release", released: false, contributors: "1,2",
            dropped: "", reason: nil, reservation: 4, updated: RoundStore.now())
        try store.markReleased(record)
        #expect(throws: FederationError.self) { try store.markReleased(record) }
        #expect(try store.nextRoundID() == 2)
        #expect(try store.record(round: 1)?.released == true)
    }

    @Test func restartMarksInterruptedRoundsAndSettlesTheirCharges() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        let plan = try RoundPlan(manifest: harness.manifest)
        let ledger = harness.aggregatorLedger
        let path = harness.folder.path("restart-rounds.sqlite")
        func reserve(_ round: UInt64) throws -> Int64 { try reserveCharge(plan, ledger: ledger, party: "aggregator", round: round).id }
        let released = try reserve(1)
        let early = try reserve(2)
        let opening = try reserve(3)
        let committed = try reserve(4)
        let unrecorded = try reserve(5)
        try ledger.commit(reservationID: released)
        // The aggregator died between the ledger commit and the round-state update of round 4.
        try ledger.commit(reservationID: committed)
        do {
            let store = try RoundStore(path: path)
            func record(_ round: Int64, _ phase: String, _ reservation: Int64?, released: Bool = false) -> RoundStore.Record {
                .init(
                    round: round, mode: "secagg", phase: phase, released: released, contributors: released ? "1,2,3" : "",
                    dropped: "", reason: nil, reservation: reservation, updated: RoundStore.now())
            }
            try store.save(record(1, "done", released, released: true))
            try store.save(record(2, "share", early))
            try store.save(record(3, "unmask", opening))
            try store.save(record(4, "unmask", committed))
            // Died between reserving and recording the reservation.
            try store.save(record(5, "join", nil))
        }
        let reopened = try RoundStore(path: path)
        let interrupted = try reopened.recoverInterrupted(ledger: ledger)
        #expect(interrupted.map(\.round) == [2, 3, 4, 5])
        let settled = Dictionary(
            try ledger.history().filter { $0.kind == .commit || $0.kind == .cancel }
                .map { ($0.reservation ?? 0, [$0.kind]) }, uniquingKeysWith: +)
        #expect(settled[released] == [.commit])
        #expect(settled[early] == [.cancel], "nothing that opens the sum existed in share")
        #expect(settled[opening] == [.commit], "unmasking shares may have reached the aggregator")
        #expect(settled[committed] == [.commit], "a committed charge is never cancelled")
        #expect(settled[unrecorded] == [.cancel], "a reservation the round state never recorded is found by round id")
        for round in [UInt64(2), 3, 4, 5] {
            let record = try #require(try reopened.record(round: round))
            #expect(record.phase == "aborted")
            #expect(record.released == false)
        }
        let four = try #require(try reopened.record(round: 4)?.reason)
        #expect(four.contains("already committed") && !four.contains("nothing was released"), "\(four)")
        #expect(try reopened.record(round: 2)?.reason?.contains("during phase share") == true)
        #expect(try reopened.record(round: 1)?.released == true)
        #expect(try reopened.nextRoundID() == 6)
        // A second restart finds nothing to do and settles nothing twice.
        #expect(try RoundStore(path: path).recoverInterrupted(ledger: ledger).isEmpty)
        try ledger.verify()
    }
}

/// A round driven in memory where one party's connection is lost after it reached a phase.
struct LostConnectionCase: Sendable, CustomStringConvertible {
    let mode: String
    /// The party's phase when its stream breaks.
    let phase: RoundPhase
    let expected: String
    var description: String { "\(mode), lost in \(phase.rawValue)" }
}

@Suite("A party whose connection is lost settles its ledger for the worst case")
struct PartyReconnectPolicyTests {
    static let cases: [LostConnectionCase] = [
        .init(mode: "secagg", phase: .join, expected: "nothing"),
        .init(mode: "secagg", phase: .advertise, expected: "cancelled"),
        .init(mode: "secagg", phase: .share, expected: "cancelled"),
        .init(mode: "secagg", phase: .contribute, expected: "committed"),
        .init(mode: "secagg", phase: .unmask, expected: "already"),
        .init(mode: "paillier", phase: .contribute, expected: "committed"),
        .init(mode: "paillier", phase: .decrypt, expected: "already"),
    ]

    @Test(arguments: cases)
    func lostConnection(_ scenario: LostConnectionCase) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: scenario.mode)
        let plan = try RoundPlan(manifest: harness.manifest)
        var random = SeededRandom(seed: 7)
        var aggregator = try AggregatorRound(plan: plan, round: 1, parties: [1, 2, 3], key: harness.dealing?.publicKey, using: &random)
        let books = RoundBookkeeper(ledger: harness.aggregatorLedger)
        var engines: [Int: PartyRound] = [:]
        for party in 1...3 {
            engines[party] = try PartyRound(
                party: party, manifest: harness.manifest, contribution: harness.data[party]!,
                credentials: try harness.credentials(party), keyShare: harness.dealing?.shares[party - 1],
                publicKey: harness.dealing?.publicKey)
        }
        let lost = 2
        let lostBooks = RoundBookkeeper(ledger: harness.partyLedgers[lost]!)
        var settlement: PartyRound.LossSettlement?
        var queue: [OutgoingMessage] = []
        for party in 1...3 { queue += aggregator.step(books) { $0.receive(engines[party]!.hello(), from: party) } }
        if scenario.phase == .join {
            settlement = lostBooks.connectionLost(&engines[lost]!, reason: "test")
            queue += aggregator.step(books) { $0.partyLeft(lost) }
        }
        var steps = 0
        while aggregator.outcome == nil || !queue.isEmpty {
            steps += 1
            try #require(steps < 10_000)
            guard !queue.isEmpty else {
                queue += aggregator.step(books) { $0.deadlinePassed() }
                continue
            }
            let message = queue.removeFirst()
            guard settlement == nil || message.party != lost, var engine = engines[message.party] else { continue }
            let replies = engine.step(RoundBookkeeper(ledger: harness.partyLedgers[message.party]!), using: &random) {
                $0.receive(message.envelope, using: &$1)
            }
            engines[message.party] = engine
            for reply in replies { queue += aggregator.step(books) { $0.receive(reply, from: message.party) } }
            if message.party == lost, settlement == nil, engine.phase == scenario.phase {
                settlement = lostBooks.connectionLost(&engine, reason: "the network was cut")
                engines[lost] = engine
                queue += aggregator.step(books) { $0.partyLeft(lost, reason: "its stream failed") }
            }
        }
        let outcome = try #require(settlement, "party \(lost) never reached \(scenario.phase.rawValue)")
        let result = try #require(
            aggregator.outcome.flatMap { if case .released(let r) = $0 { r } else { nil } },
            "\(String(describing: aggregator.outcome))")
        let budget = try harness.partyLedgers[lost]!.budget(dataset: plan.federation)
        switch scenario.expected {
        case "nothing":
            #expect(outcome == .nothingReserved)
        case "cancelled":
            guard case .cancelled = outcome else {
                Issue.record("\(outcome)")
                return
            }
        case "committed":
            guard case .committed = outcome else {
                Issue.record("\(outcome)")
                return
            }
        default:
            guard case .alreadyCommitted = outcome else {
                Issue.record("\(outcome)")
                return
            }
        }
        // Never less than what was released: a party in the released sum has its charge committed.
        if result.contributors.contains(lost) {
            #expect(budget.spentEpsilon > 0, "party \(lost) is in the sum but its ledger spent nothing")
        }
        #expect(budget.pending == 0, "the lost round leaves nothing pending: \(budget)")
        guard case .aborted = engines[lost]!.outcome else {
            Issue.record("the lost engine's round is over")
            return
        }
    }
}
