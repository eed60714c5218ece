import Arithmetic
import Attention
import DifferentialPrivacy
import Foundation
import Primitives
import Testing

@testable import Federation

/// The noise is there, at the calibrated variance: whole rounds in memory (real cryptography,
/// small test keys), the released sum minus the clear sum, in grid units.
///
/// Each contributor adds an independent discrete Gaussian share of variance σ²/t (σ the
/// calibrated noise of the plan, t the threshold), so every released coordinate minus its clear
/// value is the sum of `contributors` shares: mean 0, variance contributors·σ²/t. With the mean
/// known, S = Σ x² over N coordinates has S/v ~ χ²(N) (the discrete Gaussian at σ ≫ 1 grid unit
/// is the normal to far below the test's resolution), so v lies in [S/χ²_{1−α/2}(N), S/χ²_{α/2}(N)]
/// with probability 1 − α. The test asserts that the calibrated variance is inside that 99.9 %
/// interval. Seeded generators make every run the same: it cannot flake.
@Suite("Noise: released minus clear has the calibrated variance")
struct NoiseVarianceTests {
    /// Releases per mode: 120 rounds × 15 coordinates = 1 800 samples, a 99.9 % interval of
    /// about ±11 % around the true variance. Removing the noise gives variance 0; leaving one
    /// share out of three gives 2/3 of it: both fall outside.
    static let rounds = 120

    /// χ² quantile by Wilson–Hilferty: N(1 − 2/(9N) + z√(2/(9N)))³ (relative error below 10⁻³
    /// at N = 1 800, far inside the interval's width).
    static func chiSquareQuantile(_ z: Double, degrees n: Double) -> Double {
        let a = 2 / (9 * n)
        let base = 1 - a + z * a.squareRoot()
        return n * base * base * base
    }

    /// z for the 0.9995 quantile of the standard normal (two-sided 99.9 %).
    static let z9995 = 3.2905267314919255

    @Test(arguments: ["paillier", "secagg"])
    func releasedMinusClearHasTheCalibratedVariance(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode, epsilonBudget: 1e9)
        let federation = try harness.federation(noNoise: false)
        let plan = federation.plan
        #expect(plan.valueCount == 15)
        var random = SeededRandom(seed: mode == "paillier" ? 9001 : 9002)

        // The clear sum on the grid: every contributor's encoded values, no noise.
        let zero = [Int64](repeating: 0, count: plan.valueCount)
        var clear = zero
        for party in 1...3 {
            let encoded = try plan.encode(harness.data[party]!, noise: zero, parties: 3)
            for index in clear.indices { clear[index] += encoded[index] }
        }

        var sumOfSquares = 0.0
        var sum = 0.0
        var samples = 0
        for _ in 0..<Self.rounds {
            let report = try federation.run(using: &random)
            let result = try #require(report.result, "\(mode): \(report.aggregator)")
            #expect(result.contributors == [1, 2, 3] && !result.noNoise)
            for (released, exact) in zip(result.sums, clear) {
                let noise = Double(released - exact)
                sum += noise
                sumOfSquares += noise * noise
                samples += 1
            }
        }
        let n = Double(samples)
        // Calibrated: each share σ²/t in grid units (σ = the charged noise), three shares summed.
        let sigma = plan.event.noise
        #expect(sigma == plan.mechanism.noise * plan.codec.scale)
        let calibrated = 3 * sigma * sigma / Double(plan.threshold)
        let low = sumOfSquares / Self.chiSquareQuantile(Self.z9995, degrees: n)
        let high = sumOfSquares / Self.chiSquareQuantile(-Self.z9995, degrees: n)
        #expect(
            low <= calibrated && calibrated <= high,
            "\(mode): calibrated variance \(calibrated) outside the 99.9 % interval [\(low), \(high)] from \(samples) samples (ratio \(sumOfSquares / n / calibrated))"
        )
        // The mean is 0: within 3.29 standard errors.
        let standardError = (calibrated / n).squareRoot()
        #expect(abs(sum / n) <= Self.z9995 * standardError, "\(mode): mean noise \(sum / n), standard error \(standardError)")
    }
}

/// The ε a release reports is the ε the accountant certifies for what it records.
@Suite("Certified ε: plan, wire and result.json agree with the accountant")
struct CertifiedEpsilonTests {
    @Test(arguments: ["paillier", "secagg"])
    func resultJSONRecordsWhatTheAccountantCertifies(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        let federation = try harness.federation(noNoise: false)
        var random = SeededRandom(seed: 77)
        let report = try federation.run(using: &random)
        let result = try #require(report.result, "\(mode): \(report.aggregator)")
        let summary = try RoundOutputs.write(result, plan: federation.plan, to: harness.folder.url.appendingPathComponent("out"))
        let decoded = try JSONDecoder().decode(
            RoundOutputs.Summary.self,
            from: Data(contentsOf: harness.folder.url.appendingPathComponent("out/result.json")))
        #expect(decoded == summary)
        let cost = decoded.privacyCost
        // What `fedshare privacy epsilon` computes from the recorded fields.
        let recorded = MechanismEvent(
            mechanism: try MechanismKind(parsing: cost.mechanism), noise: cost.noise,
            sensitivity: cost.sensitivity, dimension: cost.dimension, shares: cost.shares, count: cost.count)
        #expect(recorded == result.event)
        let recomputed = try PrivacyAccountant.spend(of: [recorded], delta: cost.delta, accountant: .best)
        #expect(recomputed.epsilon <= cost.epsilon && recomputed.epsilon == cost.epsilon)
        #expect(cost.epsilon <= cost.targetEpsilon && cost.targetEpsilon == 1 && cost.delta == 1e-6)
        #expect(cost.accountant == recomputed.accountant.rawValue)
        #expect(cost.bound == CalibrationBound.distributedDiscreteGaussianRDP.rawValue)
        // The plan and the wire carry the same numbers.
        #expect(federation.plan.epsilon == cost.epsilon && federation.plan.cost.epsilon == cost.epsilon)
        // The ledgers charged that event: each one's spend is certified from it.
        let charged = try harness.aggregatorLedger.budget(dataset: harness.manifest.name)
        #expect(charged.releases == 1)
    }

    /// The noise is the smallest the accountant certifies at the manifest's target, for either
    /// mechanism: a smaller σ or b (by one ulp in grid units) is not certified.
    @Test(arguments: ["gaussian", "laplace"])
    func planNoiseIsTheSmallestCertified(mechanism: String) throws {
        let folder = try TemporaryFolder()
        let manifest = try makeManifest(in: folder, parties: 3, threshold: 2, mode: "secagg")
        var privacy = manifest.privacy
        if mechanism == "laplace" {
            privacy.mechanism = .laplace
            privacy.delta = 0
            privacy.deltaBudget = 0
        }
        var changed = manifest
        changed.privacy = privacy
        let plan = try RoundPlan(manifest: changed)
        let spend = try PrivacyAccountant.spend(of: [plan.event], delta: plan.delta, accountant: .best)
        #expect(spend.epsilon == plan.epsilon && plan.epsilon <= plan.targetEpsilon)
        var smaller = plan.event
        smaller.noise = plan.event.noise.nextDown
        if mechanism == "laplace" {
            // Pure: compared exactly, as the ledger does.
            let exact = try #require(ExactRational(exactly: smaller.sensitivity)) / (try #require(ExactRational(exactly: smaller.noise)))
            #expect(exact > (try #require(ExactRational(exactly: plan.targetEpsilon))))
        } else {
            #expect(try PrivacyAccountant.spend(of: [smaller], delta: plan.delta, accountant: .best).epsilon > plan.targetEpsilon)
            // Issue 12: Balle–Wang's σ for the continuous Gaussian was certified only for ε ≈ 1.08.
            var balleWang = plan.event
            balleWang.noise = plan.event.sensitivity * AnalyticGaussian.noiseMultiplier(epsilon: 1, delta: 1e-6)
            let old = try PrivacyAccountant.spend(of: [balleWang], delta: plan.delta, accountant: .best).epsilon
            #expect(old > 1.07, "ε at Balle–Wang's σ: \(old)")
        }
    }
}
