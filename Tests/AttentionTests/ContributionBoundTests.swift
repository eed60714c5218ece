import Foundation
import Manifest
import Primitives
import Testing
import _TestSupport

@testable import Attention

@Suite("Contribution bounds")
struct ContributionBoundTests {
    @Test("each limit-subset of a user's records is chosen uniformly")
    func uniformSubsets() {
        // 5 records, limit 2: 10 subsets, each with probability 1/10; each record 2/5.
        var random = SeededRandom(seed: 2024)
        var subsets: [[Int]: Int] = [:]
        var perRecord = [Int](repeating: 0, count: 5)
        let trials = 20_000
        for _ in 0..<trials {
            var sampler = UserRecordSampler(counts: ["u": 5], limit: 2, using: &random)
            let admitted = (0..<5).filter { _ in sampler.admit("u") }
            #expect(admitted.count == 2)
            subsets[admitted, default: 0] += 1
            for k in admitted { perRecord[k] += 1 }
        }
        #expect(subsets.count == 10)
        for (_, count) in subsets { #expect(abs(Double(count) / Double(trials) - 0.1) < 0.015) }
        for count in perRecord { #expect(abs(Double(count) / Double(trials) - 0.4) < 0.02) }
    }

    @Test("users at or under the limit keep every record")
    func underLimit() {
        var random = SeededRandom(seed: 1)
        var sampler = UserRecordSampler(counts: ["a": 3, "b": 1, "c": 9], limit: 3, using: &random)
        #expect(sampler.usersOverLimit == 1)
        #expect((0..<3).allSatisfy { _ in sampler.admit("a") })
        let b = sampler.admit("b")
        #expect(b)
        #expect((0..<9).filter { _ in sampler.admit("c") }.count == 3)
        let unseen = sampler.admit("unseen")
        #expect(unseen)
    }

    @Test("the data path keeps at most max_records_per_user per user, chosen at random")
    func throughTheReader() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(
            from: writeBaseFederation(
                in: folder,
                manifest:
                    baseManifest
                    .replacingOccurrences(of: "group_column = \"group\"", with: "group_column = \"group\"\nuser_column = \"who\"\nmax_records_per_user = 2")))
        // User "heavy" has 8 records with distinct features (one per anchor direction), "light" 2.
        var text = "who,group,f1,f2\n"
        for k in 0..<8 { text += "heavy,a,\(Double(k)),0\n" }
        text += "light,b,1,0\nlight,b,0,1\n"
        let data = try folder.write("users.csv", text)
        var chosenSets = Set<[Double]>()
        for seed in 0..<12 {
            var random = SeededRandom(seed: UInt64(seed))
            let result = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(), using: &random)
            #expect(result.counts == [2, 2])
            #expect(result.report.recordsRead == 10)
            #expect(result.report.recordsDroppedByUserBound == 6)
            #expect(result.report.usersOverBound == 1)
            #expect(abs(result.total - 4) < 1e-12)
            chosenSets.insert(Array(result.rows[0]))
        }
        // Not "the first two": different draws pick different records.
        #expect(chosenSets.count > 3)
        // The production path (CSPRNG) obeys the same bound.
        let secure = try LocalAttention.compute(manifest: manifest, dataURL: data)
        #expect(secure.counts == [2, 2])
    }

    @Test("a missing or empty user id is a bad row")
    func badUser() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(
            from: writeBaseFederation(
                in: folder,
                manifest:
                    baseManifest
                    .replacingOccurrences(of: "group_column = \"group\"", with: "group_column = \"group\"\nuser_column = \"who\"\nmax_records_per_user = 1")))
        let data = try folder.write("users.csv", "who,group,f1,f2\nx,a,1,1\n,a,1,1\n")
        #expect { try LocalAttention.compute(manifest: manifest, dataURL: data) } throws: {
            "\($0)".contains("users.csv line 3, column 'who'") && "\($0)".contains("empty")
        }
        let noColumn = try folder.write("nouser.csv", "group,f1,f2\na,1,1\n")
        #expect { try LocalAttention.compute(manifest: manifest, dataURL: noColumn) } throws: { "\($0)".contains("no user column 'who'") }
    }
}
