import Attention
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
        let record = RoundStore.Record(round: 1, mode: "paillier", phase: "release", released: false, contributors: "1,2",
                                       dropped: "", reason: nil, reservation: 4, updated: RoundStore.now())
        try store.markReleased(record)
        #expect(throws: FederationError.self) { try store.markReleased(record) }
        #expect(try store.nextRoundID() == 2)
        #expect(try store.record(round: 1)?.released == true)
    }

    @Test func restartMarksInterruptedRoundsAndReturnsTheirReservations() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("rounds.sqlite")
        do {
            let store = try RoundStore(path: path)
            try store.save(.init(round: 1, mode: "secagg", phase: "done", released: true, contributors: "1,2,3", dropped: "",
                                 reason: nil, reservation: 2, updated: RoundStore.now()))
            try store.save(.init(round: 2, mode: "secagg", phase: "share", released: false, contributors: "", dropped: "",
                                 reason: nil, reservation: 7, updated: RoundStore.now()))
        }
        let reopened = try RoundStore(path: path)
        var cancelled: [Int64] = []
        let interrupted = try reopened.recoverInterrupted { cancelled.append($0) }
        #expect(interrupted.map(\.round) == [2])
        #expect(cancelled == [7])
        let record = try #require(try reopened.record(round: 2))
        #expect(record.phase == "aborted")
        #expect(record.reason?.contains("share") == true)
        #expect(try reopened.record(round: 1)?.released == true)
        #expect(try reopened.nextRoundID() == 3)
    }
}
