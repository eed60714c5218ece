import Foundation
import Primitives
import Testing

@testable import Attention

@Suite("Attention computation")
struct AttentionComputationTests {
    @Test("hand-checked: scores ln 3 and 0 give attention 3/4 and 1/4")
    func handChecked() throws {
        // h = 1, anchors K = [[1], [0]], scale 1: s = (x, 0).
        let model = try AttentionModel(
            anchorNames: ["hot", "cold"], anchors: [1, 0], embeddingDimension: 1, scale: 1,
            groups: ["g", "h"])
        let accumulator = AttentionAccumulator(model: model)
        try accumulator.add(features: [log(3.0), 0, log(3.0)], groups: [0, 1, 1])
        let result = accumulator.result()
        #expect(abs(result[group: 0, anchor: 0] - 0.75) < 1e-15)
        #expect(abs(result[group: 0, anchor: 1] - 0.25) < 1e-15)
        #expect(abs(result[group: 1, anchor: 0] - 1.25) < 1e-15)  // 1/2 + 3/4
        #expect(abs(result[group: 1, anchor: 1] - 0.75) < 1e-15)  // 1/2 + 1/4
        #expect(result.counts == [1, 2])
    }

    @Test("hand-checked: encoder, scale and bias")
    func handCheckedEncoderBias() throws {
        // d = 2, h = 1, W = [[2], [0]]: xW = 2·x1. K = [[1], [0]], scale 0.5, b = (0, ln 3).
        // x = (ln 3, 7): s = (ln 3, ln 3) → (1/2, 1/2). x = (ln 9, 1): s = (ln 9, ln 3) → (3/4, 1/4).
        let model = try AttentionModel(
            anchorNames: ["p", "q"], anchors: [1, 0], embeddingDimension: 1,
            encoder: [2, 0], scale: 0.5, bias: [0, log(3.0)], groups: ["only"])
        #expect(model.featureDimension == 2)
        let accumulator = AttentionAccumulator(model: model)
        try accumulator.add(features: [log(3.0), 7, log(9.0), 1], groups: [0, 0])
        let result = accumulator.result()
        #expect(abs(result[group: 0, anchor: 0] - 1.25) < 1e-15)
        #expect(abs(result[group: 0, anchor: 1] - 0.75) < 1e-15)
    }

    @Test("the default scale is 1/√h")
    func defaultScale() throws {
        let model = try AttentionModel(anchorNames: ["a"], anchors: [1, 2, 3, 4], embeddingDimension: 4, groups: ["g"])
        #expect(model.scale == 0.5)
    }

    @Test("every record's attention sums to 1; the total equals the record count")
    func rowsSumToOne() throws {
        let (model, features, groups) = try randomCase(records: 300, d: 5, h: 3, m: 7, g: 4, encoder: true, seed: 11, spread: 4)
        let d = model.featureDimension
        for r in 0..<50 {
            let single = AttentionAccumulator(model: model)
            try single.add(features: Array(features[r * d..<(r + 1) * d]), groups: [groups[r]])
            let result = single.result()
            #expect(abs(result.total - 1) < 1e-14)
            #expect(result.matrix.allSatisfy { $0 >= 0 })
        }
        let all = AttentionAccumulator(model: model, capacity: 64, workers: 3)
        try all.add(features: features, groups: groups)
        let result = all.result()
        #expect(abs(result.total - 300) < 1e-10)
        #expect(result.counts.reduce(0, +) == 300)
        for g in 0..<4 {
            let rowSum = result.rows[g].reduce(0, +)
            #expect(abs(rowSum - Double(result.counts[g])) < 1e-11)
        }
    }

    @Test("permuting the records changes nothing")
    func permutationInvariance() throws {
        let (model, features, groups) = try randomCase(records: 3000, d: 6, h: 6, m: 9, g: 5, encoder: false, seed: 3)
        let d = model.featureDimension
        var random = SeededRandom(seed: 99)
        let order = Array(0..<groups.count).shuffled(using: &random)
        let shuffledFeatures = order.flatMap { features[$0 * d..<($0 + 1) * d] }
        let shuffledGroups = order.map { groups[$0] }
        let a = AttentionAccumulator(model: model, capacity: 1000)
        try a.add(features: features, groups: groups)
        let b = AttentionAccumulator(model: model, capacity: 777, workers: 2)
        try b.add(features: shuffledFeatures, groups: shuffledGroups)
        #expect(a.result().counts == b.result().counts)
        #expect(maxRelativeError(b.result().matrix, a.result().matrix) < 1e-12)
    }

    @Test(
        "agrees with an independent float64 reference to 1e-9 relative",
        arguments: [
            // records, d, h, M, G, encoder, spread: one product, two products, padding, chunking, large scores.
            (2500, 8, 8, 16, 4, false, 1.0),
            (2500, 12, 5, 13, 3, true, 1.0),
            (1500, 3, 16, 64, 7, true, 1.0),
            (700, 4, 4, 5, 2, false, 30.0),
            (1, 2, 2, 1, 1, false, 1.0),
        ])
    func agreesWithReference(records: Int, d: Int, h: Int, m: Int, g: Int, encoder: Bool, spread: Double) throws {
        let (model, features, groups) = try randomCase(
            records: records, d: d, h: h, m: m, g: g, encoder: encoder,
            seed: UInt64(records * 31 + m), spread: spread)
        let reference = referenceAttention(model: model, features: features, groups: groups)
        for (capacity, workers) in [(8192, 1), (333, 3)] {
            let accumulator = AttentionAccumulator(model: model, capacity: capacity, workers: workers)
            try accumulator.add(features: features, groups: groups)
            let result = accumulator.result()
            #expect(result.counts == reference.counts)
            #expect(maxRelativeError(result.matrix, reference.matrix) < 1e-9)
        }
    }

    @Test("scores that overflow are reported, not summed")
    func overflow() throws {
        let model = try AttentionModel(anchorNames: ["a", "b"], anchors: [1e10, -1], embeddingDimension: 1, scale: 1, groups: ["g"])
        let accumulator = AttentionAccumulator(model: model)
        #expect(throws: AttentionError.scoreOverflow(record: 2)) {
            try accumulator.add(features: [1, 1e300], groups: [0, 0])
        }
    }

    @Test("model shapes are checked")
    func modelValidation() {
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a"], anchors: [1, 2, 3], embeddingDimension: 2, groups: ["g"]) }
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a", "a"], anchors: [1, 2], embeddingDimension: 1, groups: ["g"]) }
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a"], anchors: [.nan], embeddingDimension: 1, groups: ["g"]) }
        #expect(throws: AttentionError.self) {
            try AttentionModel(anchorNames: ["a"], anchors: [1, 2], embeddingDimension: 2, encoder: [1, 2, 3], groups: ["g"])
        }
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a"], anchors: [1], embeddingDimension: 1, scale: 0, groups: ["g"]) }
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a"], anchors: [1], embeddingDimension: 1, bias: [1, 2], groups: ["g"]) }
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a"], anchors: [1], embeddingDimension: 1, groups: []) }
        #expect(throws: AttentionError.self) { try AttentionModel(anchorNames: ["a"], anchors: [1], embeddingDimension: 1, groups: ["g", "g"]) }
    }
}

@Suite("Accumulator input checks")
struct AccumulatorInputTests {
    @Test("wrong sizes and group indices are errors, not crashes")
    func badInput() throws {
        let model = try AttentionModel(anchorNames: ["a", "b"], anchors: [1, 0, 0, 1], embeddingDimension: 2, groups: ["g"])
        let accumulator = AttentionAccumulator(model: model)
        #expect(throws: AttentionError.self) { try accumulator.add(features: [1, 2, 3], groups: [0]) }
        #expect(throws: AttentionError.self) { try accumulator.add(features: [1, 2], groups: [1]) }
        #expect(throws: AttentionError.self) { try accumulator.add(features: [1, 2], groups: [-1]) }
        #expect(accumulator.recordCount == 0)
        try accumulator.add(features: [], groups: [])
        #expect(accumulator.result().total == 0)
    }
}
