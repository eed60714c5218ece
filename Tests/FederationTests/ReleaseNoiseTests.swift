import Attention
import DifferentialPrivacy
import Foundation
import Primitives
import Testing

@testable import Federation

/// What a release says about its noise, and the post-processed matrix it publishes.
@Suite("Release noise and post-processing")
struct ReleaseNoiseTests {
    /// Three-worlds with noise: σ per cell in records, the relative error, the warning that
    /// names the levers, the caption; attention.csv non-negative and consistent with counts.csv;
    /// the raw files hold the unbiased release; the allocation reads the post-processed matrix.
    @Test(arguments: ["paillier", "secagg"])
    func threeWorldsSaysThatNoiseDominates(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        let report = try harness.run(noNoise: false)
        let result = try #require(report.result)
        let plan = try RoundPlan(manifest: harness.manifest)
        let out = harness.folder.url.appendingPathComponent("out")
        let summary = try RoundOutputs.write(result, plan: plan, to: out)
        let noise = try #require(summary.noise)
        guard case .gaussian(let sigma) = plan.mechanism else {
            Issue.record("not Gaussian")
            return
        }
        // Three Gaussian shares of variance σ²/t each: σ·√(3/2) per cell.
        #expect(abs(noise.attention.sigmaPerCell - sigma * (3.0 / 2).squareRoot()) <= 1e-12 * sigma)
        #expect(noise.counts.sigmaPerCell == noise.attention.sigmaPerCell)
        #expect(noise.attention.cells == 12 && noise.counts.cells == 3)
        let total = max(1, result.noisyCounts.reduce(0, +))
        #expect(noise.attention.releasedTotal == total)
        #expect(abs(noise.attention.relativeError - noise.attention.sigmaPerCell / (total / 12)) <= 1e-12 * noise.attention.relativeError)
        #expect(noise.dominates)
        let warning = try #require(noise.warning)
        for lever in ["more records", "larger ε", "fewer groups or anchors", "Noise dominates"] { #expect(warning.contains(lever), "\(warning)") }
        #expect(noise.roundingBound == 3 * 0x1p-33)
        // result.json carries it.
        let decoded = try JSONDecoder().decode(RoundOutputs.Summary.self, from: Data(contentsOf: out.appendingPathComponent("result.json")))
        #expect(decoded.noise == noise && decoded.postProcessing == RoundOutputs.postProcessingNote)
        // The heatmap's caption gives σ.
        let svg = try String(contentsOf: out.appendingPathComponent("heatmap.svg"), encoding: .utf8)
        #expect(svg.contains("noise σ = \(ReleaseNoise.format(noise.attention.sigmaPerCell)) per cell"))

        // The published release is non-negative, whole counts, rows summing to their counts.
        let published = try LabelledMatrix.read(from: out.appendingPathComponent("attention.csv"))
        let counts = try AttentionResult.readCounts(from: out.appendingPathComponent("counts.csv"), groups: result.groups)
        #expect(counts == result.counts)
        #expect(published.values.allSatisfy { $0 >= 0 })
        for g in 0..<3 {
            let row = published.values[(g * 4)..<(g * 4 + 4)].reduce(0, +)
            #expect(abs(row - Double(counts[g])) <= 1e-9 * max(1, Double(counts[g])), "row \(g): \(row) vs \(counts[g])")
        }
        // The raw files are the unbiased release, as decoded.
        let raw = try LabelledMatrix.read(from: out.appendingPathComponent("attention-raw.csv"))
        #expect(raw.values == result.matrix)
        let rawCounts = try LabelledMatrix.read(from: out.appendingPathComponent("counts-raw.csv"))
        #expect(rawCounts.values == result.noisyCounts && rawCounts.columnLabels == ["count"])
        // The allocation's shares are those of the post-processed matrix.
        let allocation = try Allocation(attention: published, capacities: result.anchors.map { .init(node: $0, kind: .anchor, capacity: 1) })
        #expect(try String(contentsOf: out.appendingPathComponent("allocation.csv"), encoding: .utf8) == allocation.csv())
    }

    @Test func withoutNoiseThereIsNoWarningAndTheReleaseIsTheClearSum() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        let result = try #require(try harness.run(noNoise: true).result)
        let plan = try RoundPlan(manifest: harness.manifest)
        let out = harness.folder.url.appendingPathComponent("out")
        let noise = try #require(try RoundOutputs.write(result, plan: plan, to: out).noise)
        #expect(noise.attention.sigmaPerCell == 0 && noise.attention.relativeError == 0 && !noise.dominates && noise.warning == nil)
        let clear = harness.clearSum(of: [1, 2, 3])
        let published = try LabelledMatrix.read(from: out.appendingPathComponent("attention.csv"))
        // Each party rounds by half a step; the projection moves a cell by at most the mean of
        // its row's rounding: three steps in all.
        for (value, exact) in zip(published.values, clear.matrix) { #expect(abs(value - exact) <= 3 * 0x1p-32) }
        #expect(result.counts == clear.counts)
    }

    /// The Laplace shares' standard deviation is that of the discrete Laplace, summed.
    @Test func laplaceSigmaIsTheDiscreteLaplaceStandardDeviation() throws {
        let folder = try TemporaryFolder()
        let plan = try RoundPlan(
            manifest: try NoiseAwareGridTests.manifest(
                in: folder, groups: 3, anchors: 4, parties: 3,
                mechanism: "laplace", userBound: 3))
        guard case .laplace(let b) = plan.mechanism else {
            Issue.record("not Laplace")
            return
        }
        // For a scale far above one grid step the discrete Laplace's variance is 2b² to within 1e-12.
        let sigma = ReleaseNoise.sigmaPerCell(plan: plan, contributors: 2)
        #expect(abs(sigma - (2 * 2 * b * b).squareRoot()) <= 1e-6 * sigma)
    }
}
