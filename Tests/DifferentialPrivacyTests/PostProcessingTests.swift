import Foundation
import Primitives
import Testing

@testable import DifferentialPrivacy

/// The post-processed release: non-negative, each row consistent with its released count, and
/// the nearest such point to the raw release (so it never moves away from a clear row with the
/// same total).
@Suite struct PostProcessingTests {
    /// A standard normal draw (Box–Muller) from the seeded generator.
    static func normal(_ random: inout SeededRandom) -> Double {
        let u = Double(random.next() >> 11 | 1) / 0x1p53
        let v = Double(random.next() >> 11) / 0x1p53
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    static func uniform(_ random: inout SeededRandom) -> Double { Double(random.next() >> 11) / 0x1p53 }

    /// A clear row: `columns` attention values summing to `count` (softmax-like, all positive).
    static func clearRow(columns: Int, count: Int, _ random: inout SeededRandom) -> [Double] {
        let weights = (0..<columns).map { _ in exp(3 * uniform(&random)) }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total * Double(count) }
    }

    @Test(arguments: [0.001, 0.3, 5.0, 40.0, 2000.0])
    func releasedMatricesAreNonNegativeAndRowConsistent(sigma: Double) throws {
        var random = SeededRandom(seed: UInt64(sigma * 1000) + 7)
        for trial in 0..<200 {
            let rows = 1 + Int(random.next() % 8)
            let columns = 1 + Int(random.next() % 40)
            var matrix: [Double] = []
            var noisyCounts: [Double] = []
            for _ in 0..<rows {
                let count = Int(random.next() % 200)
                matrix += Self.clearRow(columns: columns, count: count, &random).map { $0 + sigma * Self.normal(&random) }
                noisyCounts.append(Double(count) + sigma * Self.normal(&random))
            }
            let counts = PostProcessing.nonNegativeCounts(noisyCounts)
            let released = PostProcessing.consistentRows(matrix, columns: columns, rowTotals: counts.map(Double.init))
            #expect(released.count == matrix.count)
            #expect(counts.allSatisfy { $0 >= 0 })
            for (count, noisy) in zip(counts, noisyCounts) {
                #expect(count == (noisy <= 0 ? 0 : Int(noisy.rounded(.toNearestOrEven))), "trial \(trial)")
            }
            for row in 0..<rows {
                let values = Array(released[(row * columns)..<((row + 1) * columns)])
                #expect(values.allSatisfy { $0 >= 0 && $0.isFinite }, "trial \(trial) row \(row): \(values)")
                let sum = values.reduce(0, +)
                #expect(
                    abs(sum - Double(counts[row])) <= 1e-9 * max(1, Double(counts[row])),
                    "trial \(trial) row \(row): sums to \(sum), count \(counts[row])")
            }
        }
    }

    /// The projection is the nearest point of the scaled simplex: no random point of it is
    /// closer, the positive cells all moved by one shift θ and the zeroed ones were at or below θ
    /// (the optimality conditions), and it never moves away from a point of the set.
    @Test func theProjectionIsTheNearestPointAndNonExpansive() throws {
        var random = SeededRandom(seed: 2026)
        for trial in 0..<500 {
            let columns = 1 + Int(random.next() % 30)
            let total = Double(random.next() % 100) + Self.uniform(&random)
            let clear = Self.clearRow(columns: columns, count: 1, &random).map { $0 * total }
            let sigma = [0.01, 1, 10, 100][Int(random.next() % 4)]
            let noisy = clear.map { $0 + sigma * Self.normal(&random) }
            let projected = PostProcessing.projectOntoSimplex(noisy, total: total)
            func distance(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() }
            let best = distance(projected, noisy)
            for _ in 0..<20 {
                let other = Self.clearRow(columns: columns, count: 1, &random).map { $0 * total }
                #expect(best <= distance(other, noisy) + 1e-9 * max(1, total), "trial \(trial)")
            }
            // Non-expansive towards the set: the clear row (in the set) is never farther away.
            #expect(distance(projected, clear) <= distance(noisy, clear) + 1e-9 * max(1, total), "trial \(trial)")
            // Optimality: x_i = v_i − θ where x_i > 0, and v_i ≤ θ where x_i = 0.
            let shifts = zip(noisy, projected).filter { $0.1 > 1e-9 * max(1, total) }.map { $0.0 - $0.1 }
            let theta = try #require(shifts.first, "trial \(trial): an empty support")
            for shift in shifts { #expect(abs(shift - theta) <= 1e-7 * max(1, abs(theta), total), "trial \(trial)") }
            for (value, x) in zip(noisy, projected) where x == 0 { #expect(value <= theta + 1e-7 * max(1, abs(theta), total)) }
        }
    }

    @Test func edgeCases() {
        #expect(PostProcessing.projectOntoSimplex([], total: 3).isEmpty)
        #expect(PostProcessing.projectOntoSimplex([1, -2, 5], total: 0) == [0, 0, 0])
        #expect(PostProcessing.projectOntoSimplex([1, -2, 5], total: -4) == [0, 0, 0])
        // A feasible row comes back as it was; an all-negative row spreads its total evenly.
        #expect(PostProcessing.projectOntoSimplex([1, 2, 3], total: 6) == [1, 2, 3])
        #expect(PostProcessing.projectOntoSimplex([-5, -5, -5, -5], total: 2) == [0.5, 0.5, 0.5, 0.5])
        #expect(PostProcessing.projectOntoSimplex([-35.3, 23.6, -18.8, -20.9], total: 4) == [0, 4, 0, 0])
        #expect(PostProcessing.nonNegativeCounts([-3.2, 0.49, 0.51, 7.5, 8.5, .nan, 1e300]) == [0, 0, 1, 8, 8, 0, 1 << 62])
    }
}
