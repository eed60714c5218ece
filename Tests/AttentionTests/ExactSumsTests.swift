import Foundation
import Manifest
import Primitives
import Testing
import _TestSupport

@testable import Attention

@Suite("Exact sums and partial results")
struct ExactSumsTests {
    /// Shapes: tiny; the marketplace's (two products, d = 32, h = 16, M = 64), where OpenBLAS's
    /// edge rows once changed the last bits of a record's scores with its position in a chunk;
    /// one product with padding (M = 41).
    @Test(
        "chunk size, worker count, record order and splitting give bit-identical matrices",
        arguments: [
            (7, 5, 11, true), (32, 16, 64, true), (16, 16, 41, false),
        ])
    func bitIdentical(d: Int, h: Int, m: Int, encoder: Bool) throws {
        // Spread 3 gives probabilities with full 52-bit mantissas, so any floating-point
        // re-association would show in the last bits.
        let (model, features, groups) = try randomCase(records: 5000, d: d, h: h, m: m, g: 3, encoder: encoder, seed: 5, spread: 3)
        let d = model.featureDimension
        let reference = AttentionAccumulator(model: model, capacity: 8192, workers: 1)
        try reference.add(features: features, groups: groups)
        let expected = reference.exactSums()
        var random = SeededRandom(seed: 42)
        for (capacity, workers) in [(1, 1), (333, 2), (1024, 3), (4999, 4), (700, 7)] {
            let order = Array(0..<groups.count).shuffled(using: &random)
            let accumulator = AttentionAccumulator(model: model, capacity: capacity, workers: workers)
            try accumulator.add(features: order.flatMap { features[$0 * d..<($0 + 1) * d] }, groups: order.map { groups[$0] })
            #expect(accumulator.exactSums() == expected, "capacity \(capacity), \(workers) workers, shuffled")
            #expect(accumulator.result().matrix == expected.result.matrix)
        }
        // Three disjoint parts, each in its own accumulator, added afterwards.
        var parts = AttentionSums(
            groups: model.groups, anchors: model.anchorNames,
            sums: [Int128](repeating: 0, count: expected.sums.count), counts: [0, 0, 0])
        for range in [0..<1234, 1234..<1235, 1235..<5000] {
            let part = AttentionAccumulator(model: model, capacity: 500, workers: 2)
            try part.add(features: Array(features[range.lowerBound * d..<range.upperBound * d]), groups: Array(groups[range]))
            parts.add(part.exactSums())
        }
        #expect(parts == expected)
    }

    @Test("more than 2^10 records of one group per worker fold without overflow")
    func manyRecordsOneGroup() throws {
        // Every record puts probability 1 (to the grid) on anchor 0: the lane sums 2^52 per row.
        let model = try AttentionModel(anchorNames: ["hot", "cold"], anchors: [1, 0], embeddingDimension: 1, scale: 1, groups: ["g"])
        let accumulator = AttentionAccumulator(model: model, capacity: 4096, workers: 1)
        let n = 5000
        try accumulator.add(features: [Double](repeating: 800, count: n), groups: [Int](repeating: 0, count: n))
        let sums = accumulator.exactSums()
        #expect(sums.sums == [Int128(n) << 52, 0])
        #expect(accumulator.result().matrix == [Double(n), 0])
    }

    @Test("a file's exact sums equal the sum of its parts' partial results, through the file format")
    func partsMerge() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder))
        var random = SeededRandom(seed: 9)
        var rows: [String] = []
        for _ in 0..<3000 {
            rows.append("\(Bool.random(using: &random) ? "a" : "b"),\(Double.random(in: -4...4, using: &random)),\(Double.random(in: -4...4, using: &random))")
        }
        let whole = try LocalAttention.sums(manifest: manifest, dataURL: folder.write("all.csv", "group,f1,f2\n" + rows.joined(separator: "\n")))
        var parts: [(file: String, partial: PartialAttention)] = []
        for (index, range) in [0..<1000, 1000..<1001, 1001..<3000].enumerated() {
            let url = try folder.write("part-\(index).csv", "group,f1,f2\n" + rows[range].reversed().joined(separator: "\n"))
            let partial = PartialAttention(manifest: manifest, sums: try LocalAttention.sums(manifest: manifest, dataURL: url), boundApplied: .job)
            let decoded = try PartialAttention.decode(partial.encoded(), file: "part-\(index).json")
            var written = partial
            written.sums.report = IngestionReport()  // the reading report stays with the reader
            #expect(decoded == written)
            try decoded.check(against: manifest, file: "part-\(index).json")
            parts.append(("part-\(index).json", decoded))
        }
        let merged = try PartialAttention.merge(parts, users: nil)
        #expect(merged.sums.sums == whole.sums && merged.sums.counts == whole.counts)
        #expect(merged.sums.result.matrix == whole.result.matrix)
        #expect(merged.records == 3000 && merged.boundApplied == .none && merged.maxRecordsPerUser == nil)
    }

    @Test("merging or checking refuses a different manifest, groups, anchors or bound, naming the file and field")
    func mismatches() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder))
        let sums = AttentionSums(groups: ["a", "b"], anchors: ["up", "down"], sums: [1, 2, 3, 4], counts: [1, 1])
        let good = PartialAttention(manifest: manifest, sums: sums, boundApplied: .fedshare)
        try good.check(against: manifest, file: "good.json")
        var otherHash = good
        otherHash.manifestHash = String(repeating: "0", count: 64)
        var otherGroups = good
        otherGroups.sums.groups = ["a", "c"]
        var bounded = good
        bounded.maxRecordsPerUser = 3
        bounded.boundApplied = .job
        for (bad, field) in [(otherHash, "manifestHash"), (otherGroups, "groups"), (bounded, "maxRecordsPerUser")] {
            let merging = refusal { _ = try PartialAttention.merge([("good.json", good), ("bad.json", bad)], users: nil) }
            #expect(
                merging?.file == "bad.json" && merging?.field == field && merging?.problem.contains("as in good.json") == true, "\(String(describing: merging))"
            )
            let checking = refusal { try bad.check(against: manifest, file: "bad.json") }
            #expect(checking?.file == "bad.json" && checking?.field == field, "\(String(describing: checking))")
        }
    }

    @Test(
        "the decoder refuses malformed files with the field at fault",
        arguments: [
            ("{", nil),
            (#"{"format":"something-else"}"#, "format"),
            (#"{"format":"fedshare-partial-attention","version":2}"#, "version"),
            (#"{"format":"fedshare-partial-attention","version":1,"extra":1}"#, "extra"),
            (#"{"format":"fedshare-partial-attention","version":1,"manifestHash":"xyz"}"#, "manifestHash"),
            (#"{"format":"fedshare-partial-attention","version":1,"sums":[1,2]}"#, "sums"),
        ] as [(String, String?)])
    func malformed(text: String, field: String?) {
        do {
            _ = try PartialAttention.decode(Data(text.utf8), file: "p.json")
            Issue.record("accepted \(text)")
        } catch AttentionError.partialResult(let file, let name, _) {
            #expect(file == "p.json" && name == field)
        } catch AttentionError.malformedFile(let file, _) {
            #expect(file == "p.json" && field == nil)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("sums out of range, wrong counts or records are refused")
    func inconsistent() throws {
        let sums = AttentionSums(groups: ["a"], anchors: ["x", "y"], sums: [Int128(1) << 52, 0], counts: [1])
        let good = PartialAttention(manifestHash: String(repeating: "ab", count: 32), sums: sums, users: 1, maxRecordsPerUser: nil, boundApplied: .none)
        let text = String(decoding: good.encoded(), as: UTF8.self)
        #expect(try PartialAttention.decode(good.encoded(), file: "p.json") == good)
        for (change, field) in [("\"4503599627370497\",\"0\"", "sums"), ("\"4503599627370496\"", "sums")] {
            let bad = text.replacingOccurrences(of: "\"4503599627370496\",\"0\"", with: change)
            #expect(refusal { _ = try PartialAttention.decode(Data(bad.utf8), file: "p.json") }?.field == field, "\(bad)")
        }
        let badRecords = text.replacingOccurrences(of: "\"records\":1", with: "\"records\":2")
        #expect(refusal { _ = try PartialAttention.decode(Data(badRecords.utf8), file: "p.json") }?.field == "records")
        let fraction = text.replacingOccurrences(of: "\"records\":1", with: "\"records\":1.5")
        #expect(refusal { _ = try PartialAttention.decode(Data(fraction.utf8), file: "p.json") }?.field == "records")
        let badBound = text.replacingOccurrences(of: "\"boundApplied\":\"none\"", with: "\"boundApplied\":\"job\"")
        #expect(refusal { _ = try PartialAttention.decode(Data(badBound.utf8), file: "p.json") }?.field == "boundApplied")
    }
}

/// The file, field and problem of an `AttentionError.partialResult` thrown by `body`, or nil.
private func refusal(_ body: () throws -> Void) -> (file: String, field: String, problem: String)? {
    do { try body() } catch AttentionError.partialResult(let file, let field, let problem) { return (file, field, problem) } catch { return nil }
    return nil
}
