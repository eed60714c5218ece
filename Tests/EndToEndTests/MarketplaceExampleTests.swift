import Federation
import Foundation
import Testing

/// `fedshare simulate --example marketplace`: it generates its own data on first use, and its
/// post-processed release is close to the clear matrix (which only a simulation can write).
@Suite("End to end: the marketplace example", .serialized)
struct MarketplaceExampleTests {
    /// The stated error: ‖attention.csv − clear‖ / ‖clear‖ (Frobenius) at most 15 %. With
    /// σ ≈ 166 records per cell (ε = 0.5, δ = 10⁻⁷, 10 records per shopper, 4 shares of t = 3)
    /// against a clear matrix of Frobenius norm about 37 000, the raw release is about 14.5 % off
    /// (its relative error concentrates within a few tenths of a percent over 1 024 cells) and
    /// the projection brings it to about 10 %. The summary must not say that noise dominates.
    static let statedError = 0.15

    @Test func theReleaseIsCloseToTheClearMatrix() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-marketplace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out")
        let run = try await runFedshare(
            ["simulate", "--example", "marketplace", "--out", out.path, "--json"], in: folder,
            name: "simulate-marketplace", within: 900)
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0 else { return }
        let summary = try JSONDecoder().decode(RoundOutputs.Summary.self, from: Data(contentsOf: out.appendingPathComponent("result.json")))
        let noise = try #require(summary.noise)
        #expect(!noise.dominates && noise.warning == nil, "\(noise)")
        #expect(summary.mode == "secagg" && summary.partiesContributed == [1, 2, 3, 4])
        // The automatic grid: far coarser than 2^-32, rounding at most σ/512.
        #expect(summary.fractionalBits < 32 && noise.roundingBound <= noise.attention.sigmaPerCell / 512)

        let released = try csvNumbers(out.appendingPathComponent("attention.csv"))
        let raw = try csvNumbers(out.appendingPathComponent("attention-raw.csv"))
        let clear = try csvNumbers(out.appendingPathComponent("attention-clear.csv"))
        #expect(released.count == 16 * 64 && clear.count == released.count && raw.count == released.count)
        #expect(released.allSatisfy { $0 >= 0 })
        func error(_ values: [Double]) -> Double {
            let difference = zip(values, clear).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            return difference / clear.map { $0 * $0 }.reduce(0, +).squareRoot()
        }
        let publishedError = error(released)
        let rawError = error(raw)
        #expect(publishedError <= Self.statedError, "post-processed release \(publishedError) from the clear matrix (raw \(rawError))")
        #expect(publishedError <= rawError, "post-processing moved the release away from the clear matrix: \(publishedError) > \(rawError)")
        // The clear matrix's rows, summed, are the clear counts: each count is within 6σ of it.
        let counts = try csvNumbers(out.appendingPathComponent("counts.csv"))
        for g in 0..<16 {
            let clearCount = clear[(g * 64)..<(g * 64 + 64)].reduce(0, +)
            #expect(abs(counts[g] - clearCount) <= 6 * noise.counts.sigmaPerCell + 1, "group \(g): \(counts[g]) vs \(clearCount)")
        }
    }
}
