import Arithmetic
import Foundation
import Primitives
import Testing

@testable import DifferentialPrivacy

/// Goodness of fit of the exact samplers against their exact probability mass functions:
/// 10^6 seeded draws per scale, χ² over ~40 near-equiprobable bins, significance 10^-3.
@Suite struct SamplerTests {
    static let draws = 1_000_000

    /// A distribution on the integers through its CDF F(x) = P(X ≤ x).
    struct Target {
        let name: String
        let cdf: (Int64) -> Double
        let spread: Int64  // a bound beyond which the mass is negligible
    }

    static func discreteLaplace(_ scale: Double) -> Target {
        let r = exp(-1 / scale)
        return Target(
            name: "DLap(\(scale))",
            cdf: { x in
                x >= 0 ? 1 - pow(r, Double(x + 1)) / (1 + r) : pow(r, Double(-x)) / (1 + r)
            }, spread: Int64(60 * scale) + 60)
    }

    static func discreteGaussian(_ sigma: Double) -> Target {
        if sigma > 100 {
            // Midpoint rule: error O(1/σ²) relative per bin, far below the test's resolution.
            return Target(
                name: "DG(\(sigma))", cdf: { x in StandardNormal.cdf((Double(x) + 0.5) / sigma) },
                spread: Int64(12 * sigma))
        }
        let limit = Int64(40 * sigma) + 40
        var mass: [Double] = []
        for x in -limit...limit { mass.append(exp(-Double(x) * Double(x) / (2 * sigma * sigma))) }
        let total = mass.reduce(0, +)
        var cumulative: [Double] = []
        var running = 0.0
        for m in mass {
            running += m / total
            cumulative.append(running)
        }
        return Target(
            name: "DG(\(sigma))",
            cdf: { x in
                if x < -limit { return 0 }
                if x >= limit { return 1 }
                return cumulative[Int(x + limit)]
            }, spread: limit)
    }

    /// Bin upper edges at the 1/40 … 39/40 quantiles (duplicates merged), then the tail.
    static func edges(_ target: Target) -> [Int64] {
        var edges: [Int64] = []
        for j in 1..<40 {
            let level = Double(j) / 40
            var low = -target.spread
            var high = target.spread
            while low < high {
                let middle = low + (high - low) / 2
                if target.cdf(middle) >= level { high = middle } else { low = middle + 1 }
            }
            if edges.last != low { edges.append(low) }
        }
        return edges
    }

    static func check(_ target: Target, sample: (inout SeededRandom) -> Int64, seed: UInt64) {
        let edges = edges(target)
        var counts = [Int](repeating: 0, count: edges.count + 1)
        var generator = SeededRandom(seed: seed)
        for _ in 0..<draws {
            let value = sample(&generator)
            var low = 0
            var high = edges.count
            while low < high {
                let middle = (low + high) / 2
                if value <= edges[middle] { high = middle } else { low = middle + 1 }
            }
            counts[low] += 1
        }
        var chiSquare = 0.0
        var previous = 0.0
        for (index, count) in counts.enumerated() {
            let upper = index < edges.count ? target.cdf(edges[index]) : 1
            let expected = (upper - previous) * Double(draws)
            previous = upper
            #expect(expected >= 5, "\(target.name): bin \(index) expects \(expected)")
            chiSquare += (Double(count) - expected) * (Double(count) - expected) / expected
        }
        // Wilson–Hilferty quantile of χ²(df) at 1 − 10^-3 (z = 3.0902).
        let df = Double(counts.count - 1)
        let critical = df * pow(1 - 2 / (9 * df) + 3.0902 * (2 / (9 * df)).squareRoot(), 3)
        #expect(chiSquare < critical, "\(target.name): χ² = \(chiSquare) with \(Int(df)) df exceeds \(critical)")
    }

    @Test(arguments: [(1, 10), (1, 1), (37, 3), (1_000_000, 1)])
    func discreteLaplaceFits(numerator: Int, denominator: Int) throws {
        let scale = ExactRational(BigInt(numerator), BigInt(denominator))
        let sampler = try DiscreteLaplaceSampler(scale: scale)
        Self.check(
            Self.discreteLaplace(scale.doubleValue), sample: { sampler.sample(using: &$0) },
            seed: UInt64(numerator * 7 + denominator))
    }

    /// σ² = numerator/denominator: σ = 0.5, 1, √(1000/3) ≈ 18.3, 10^6.
    @Test(arguments: [(1, 4), (1, 1), (1000, 3), (1_000_000_000_000, 1)])
    func discreteGaussianFits(numerator: Int, denominator: Int) throws {
        let variance = ExactRational(BigInt(numerator), BigInt(denominator))
        let sampler = try DiscreteGaussianSampler(sigmaSquared: variance)
        Self.check(
            Self.discreteGaussian(variance.doubleValue.squareRoot()), sample: { sampler.sample(using: &$0) },
            seed: UInt64(numerator % 1_000_003 + denominator))
    }

    /// The BigInt path (parameters beyond 128-bit intermediates) draws from the same law.
    @Test func bigIntegerPathFits() throws {
        // σ² with a 70-bit numerator and denominator: forces the GMP path.
        let p = BigInt(1) << 70
        let q = (BigInt(1) << 66) + 1  // σ² ≈ 16 − tiny
        let sampler = try DiscreteGaussianSampler(sigmaSquared: ExactRational(p, q))
        let sigma = ExactRational(p, q).doubleValue.squareRoot()
        var generator = SeededRandom(seed: 99)
        let draws = 20_000
        var sum = 0.0
        var squares = 0.0
        for _ in 0..<draws {
            let x = Double(sampler.sample(using: &generator))
            sum += x
            squares += x * x
        }
        // Mean within 5 standard errors, variance within 5 % (σ = 4: DG variance ≈ σ²).
        #expect(abs(sum / Double(draws)) < 5 * sigma / Double(draws).squareRoot())
        #expect(abs(squares / Double(draws) / (sigma * sigma) - 1) < 0.05)
    }

    @Test func bernoulliExpMinusIsExactOnAverage() throws {
        var generator = SeededRandom(seed: 5)
        for (n, d) in [(1, 3), (5, 2), (0, 1), (7, 1)] {
            let gamma = ExactRational(BigInt(n), BigInt(d))
            var successes = 0
            let trials = 200_000
            for _ in 0..<trials where try sampleBernoulliExpMinus(gamma, using: &generator) { successes += 1 }
            let p = exp(-Double(n) / Double(d))
            let standardError = (p * (1 - p) / Double(trials)).squareRoot()
            #expect(abs(Double(successes) / Double(trials) - p) <= 5 * standardError + 1e-12)
        }
        #expect(throws: DifferentialPrivacyError.self) {
            try sampleBernoulliExpMinus(ExactRational(BigInt(-1)), using: &generator)
        }
    }

    @Test func samplersRefuseBadScales() {
        #expect(throws: DifferentialPrivacyError.self) { try DiscreteLaplaceSampler(scale: ExactRational(0)) }
        #expect(throws: DifferentialPrivacyError.self) { try DiscreteGaussianSampler(sigmaSquared: ExactRational(BigInt(-4))) }
        #expect(throws: DifferentialPrivacyError.self) {
            try DiscreteLaplaceSampler(scale: ExactRational(BigInt(1) << 60))
        }
    }
}
