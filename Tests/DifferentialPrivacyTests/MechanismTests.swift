import Arithmetic
import Foundation
import Primitives
import Testing

@testable import DifferentialPrivacy

@Suite struct MechanismTests {
    let codec = FixedPointCodec(fractionalBits: 16)

    @Test func gaussianSharesSumToTheTargetVariance() throws {
        // 5 parties, threshold 3: each share has variance σ²/3 (grid units); 3 shares carry σ².
        let sigma = 0.05  // real units: 3276.8 grid units
        var generator = SeededRandom(seed: 11)
        let count = 20_000
        var shares: [[Int64]] = []
        for _ in 0..<3 {
            shares.append(
                try DistributedNoise.share(
                    for: .gaussian(sigma: sigma), parties: 5, threshold: 3, codec: codec,
                    count: count, using: &generator))
        }
        var squares = 0.0
        for index in 0..<count {
            let total = Double(shares[0][index] + shares[1][index] + shares[2][index])
            squares += total * total
        }
        let target = sigma * codec.scale
        let ratio = squares / Double(count) / (target * target)
        #expect(abs(ratio - 1) < 0.05, "variance ratio \(ratio)")
    }

    @Test func shareVarianceIsRoundedUp() throws {
        for sigma in [1e-3, 0.3, 1.0, 17.25, 4096.0] {
            for threshold in [1, 2, 7] {
                let variance = try DistributedNoise.shareVariance(.gaussian(sigma: sigma), threshold: threshold, codec: codec)
                let exact = ExactRational(exactly: sigma)! * ExactRational(BigInt.powerOfTwo(16))
                let wanted = exact * exact / ExactRational(threshold)
                #expect(variance >= wanted)
                #expect(((variance - wanted) / wanted).doubleValue <= 0x1p-31)
            }
        }
    }

    @Test func laplaceSharesAreFullDiscreteLaplace() throws {
        var generator = SeededRandom(seed: 3)
        let b = 0.01  // 655.36 grid units
        let noise = try DistributedNoise.share(
            for: .laplace(scale: b), parties: 4, threshold: 2, codec: codec,
            count: 50_000, using: &generator)
        let meanAbsolute = noise.reduce(0.0) { $0 + abs(Double($1)) } / Double(noise.count)
        // E|X| of a discrete Laplace with scale s ≈ s for s ≫ 1.
        #expect(abs(meanAbsolute / (b * codec.scale) - 1) < 0.03)
    }

    @Test func eventsChargeGridRounding() throws {
        let gaussian = try DistributedNoise.event(
            for: .gaussian(sigma: 2), threshold: 3, sensitivity: 1, dimension: 100,
            codec: codec)
        #expect(gaussian.mechanism == .discreteGaussian && gaussian.shares == 3 && gaussian.dimension == 100)
        #expect(gaussian.noise == 2 * 65536)
        #expect(gaussian.sensitivity > 65536 + 10 && gaussian.sensitivity < 65536 + 10.0001)
        let laplace = try DistributedNoise.event(
            for: .laplace(scale: 2), threshold: 3, sensitivity: 1, dimension: 100,
            affectedCoordinates: 11, codec: codec)
        #expect(laplace.mechanism == .discreteLaplace && laplace.sensitivity > 65536 + 11 && laplace.sensitivity < 65536 + 11.001)
        // Charged ε ≈ Δ/b plus the rounding term.
        let spend = try PrivacyAccountant.spend(of: [laplace], delta: 0, accountant: .basic)
        #expect(spend.epsilon > 0.5 && spend.epsilon < 0.5 + 11 / 65536.0 / 2 + 1e-9)
        #expect(throws: DifferentialPrivacyError.self) {
            try DistributedNoise.share(for: .gaussian(sigma: 1), parties: 2, threshold: 3, codec: codec, count: 1, using: &SeededRandomBox.shared.generator)
        }
        #expect(throws: DifferentialPrivacyError.self) {
            try DistributedNoise.event(for: .laplace(scale: 0), threshold: 1, sensitivity: 1, dimension: 1, codec: codec)
        }
    }

    @Test func matrixReleaseAddsNoiseOnTheGrid() throws {
        var generator = SeededRandom(seed: 8)
        let values = (0..<64).map { Double($0) / 8 }
        let (encoded, decoded, event) = try MatrixMechanism.release(
            values, mechanism: .gaussian(sigma: 0.01), sensitivity: 1,
            codec: codec, using: &generator)
        #expect(encoded.count == 64 && event.dimension == 64)
        let error = zip(decoded, values).map { abs($0 - $1) }.max() ?? 0
        #expect(error > 0 && error < 0.1)
    }

    @Test func rationalsAreExact() throws {
        #expect(ExactRational(decimal: "0.3") == ExactRational(BigInt(3), BigInt(10)))
        #expect(ExactRational(decimal: "1e-05") == ExactRational(BigInt(1), BigInt(100_000)))
        #expect(ExactRational(decimal: "-2.5E+3") == ExactRational(BigInt(-2500)))
        #expect(ExactRational(decimal: "abc") == nil)
        #expect(ExactRational(exactly: 0.1)! != ExactRational(BigInt(1), BigInt(10)))
        var generator = SeededRandom(seed: 1)
        for _ in 0..<2000 {
            let p = Int64.random(in: -(1 << 40)...(1 << 40), using: &generator)
            let q = Int64.random(in: 1...(1 << 40), using: &generator)
            // IEEE division of exactly representable operands is correctly rounded.
            #expect(ExactRational(BigInt(p), BigInt(q)).doubleValue == Double(p) / Double(q))
        }
        for value in [0.1, 1e-300, 3.7e12, -2.5e-300, 123.456] {
            #expect(ExactRational(exactly: value)!.doubleValue == value)
        }
    }
}

/// A generator for `#expect(throws:)` closures, which cannot capture an inout local.
final class SeededRandomBox: @unchecked Sendable {
    static let shared = SeededRandomBox()
    var generator = SeededRandom(seed: 0)
}

@Suite struct BufferedSecureRandomTests {
    @Test func producesFreshWordsAcrossRefills() {
        var generator = BufferedSecureRandom()
        var seen = Set<UInt64>()
        for _ in 0..<2000 { seen.insert(generator.next()) }
        #expect(seen.count == 2000)  // 2000 distinct 64-bit words: collisions have probability ~1e-13
    }
}
