import Arithmetic
import Attention
import DifferentialPrivacy
import Foundation
import Manifest
import Paillier
import Primitives
import Testing

@testable import Federation

/// The automatic fixed-point grid: chosen from the noise and the value range, rounding far
/// below the noise, rounding charged exactly, fewer ciphertexts, both modes still agreeing.
@Suite("Noise-aware encoding")
struct NoiseAwareGridTests {
    /// A manifest of G groups × M anchors (anchors of dimension 4) for plans only.
    static func manifest(
        in folder: TemporaryFolder, groups: Int, anchors: Int, parties: Int, mechanism: String = "gaussian",
        epsilon: Double = 1, userBound: Int? = nil, crypto: String = ""
    ) throws -> FederationManifest {
        var anchorsCSV = "name,e1,e2,e3,e4\n"
        for m in 0..<anchors { anchorsCSV += "a\(m),\(Double(m % 7) / 7),0.5,\(Double(m % 3) / 3),1\n" }
        try Data(anchorsCSV.utf8).write(to: folder.url.appendingPathComponent("anchors-\(anchors).csv"))
        let text = """
            [federation]
            name = "grid"
            parties = [\((1...parties).map(String.init).joined(separator: ", "))]
            threshold = \(parties / 2 + 1)
            aggregator = "127.0.0.1:7443"

            [attention]
            anchors = "anchors-\(anchors).csv"
            groups = [\((0..<groups).map { "\"g\($0)\"" }.joined(separator: ", "))]
            features = ["f1", "f2", "f3", "f4"]
            \(userBound.map { "user_column = \"user\"\nmax_records_per_user = \($0)" } ?? "")

            [privacy]
            mechanism = "\(mechanism)"
            epsilon = \(epsilon)
            \(mechanism == "gaussian" ? "delta = 1e-6" : "")
            \(userBound == nil ? "" : "unit = \"user\"")
            epsilon_budget = 100.0
            \(mechanism == "gaussian" ? "delta_budget = 1e-3" : "")

            [crypto]
            mode = "paillier"
            key_bits = 2048
            \(crypto)
            """
        let url = folder.url.appendingPathComponent("grid-\(UUID().uuidString).toml")
        try Data(text.utf8).write(to: url)
        return try FederationManifest.load(from: url)
    }

    struct Case: CustomStringConvertible, Sendable {
        var groups: Int, anchors: Int, parties: Int, mechanism: String, epsilon: Double, userBound: Int?
        var description: String { "\(groups)×\(anchors), \(parties) parties, \(mechanism) ε = \(epsilon), k = \(userBound ?? 1)" }
    }

    static let cases: [Case] = [
        Case(groups: 3, anchors: 4, parties: 3, mechanism: "gaussian", epsilon: 1, userBound: 3),
        Case(groups: 32, anchors: 256, parties: 3, mechanism: "gaussian", epsilon: 1, userBound: nil),
        Case(groups: 16, anchors: 64, parties: 4, mechanism: "gaussian", epsilon: 0.5, userBound: 10),
        Case(groups: 8, anchors: 8, parties: 9, mechanism: "gaussian", epsilon: 8, userBound: nil),
        Case(groups: 3, anchors: 4, parties: 3, mechanism: "laplace", epsilon: 1, userBound: 3),
        Case(groups: 16, anchors: 64, parties: 5, mechanism: "laplace", epsilon: 0.1, userBound: 10),
    ]

    /// Rule (a): every released value's worst rounding error, n·2^-f/2, is at most σ/512 (σ the
    /// calibrated noise, b for the Laplace); rule (b): rounding is at most 1/16 of the charged
    /// sensitivity; and f is the coarsest grid meeting both.
    @Test(arguments: cases)
    func theGridKeepsRoundingFarBelowTheNoise(_ test: Case) throws {
        let folder = try TemporaryFolder()
        let manifest = try Self.manifest(
            in: folder, groups: test.groups, anchors: test.anchors, parties: test.parties,
            mechanism: test.mechanism, epsilon: test.epsilon, userBound: test.userBound)
        let plan = try RoundPlan(manifest: manifest)
        #expect(plan.automaticGrid)
        let f = plan.codec.fractionalBits
        let noise = plan.mechanism.noise
        let worstRounding = Double(test.parties) * plan.codec.step / 2
        #expect(worstRounding <= noise * RoundPlan.roundingFraction, "\(test): f = \(f), rounding \(worstRounding), σ \(noise)")
        let k = Double(test.userBound ?? 1)
        let affected = min(plan.valueCount, (test.userBound ?? 1) * (test.anchors + 1))
        let isGaussian = test.mechanism == "gaussian"
        let data = isGaussian ? 2.0.squareRoot().nextUp * k : 2 * k
        let rounding = isGaussian ? Double(affected).squareRoot().nextUp : Double(affected)
        #expect(rounding <= RoundPlan.roundingChargeFraction * data * plan.codec.scale, "\(test): f = \(f)")
        // Coarsest: one bit fewer breaks a rule for σ₀ ≤ σ (checked here against σ, which is at
        // most 1/16 above σ₀ by rule (b), so the margin is allowed for).
        if f > 0 {
            let coarser = plan.codec.scale / 2
            let breaksA = Double(test.parties) / coarser / 2 > noise * RoundPlan.roundingFraction / (1 + RoundPlan.roundingChargeFraction)
            let breaksB = rounding > RoundPlan.roundingChargeFraction * data * coarser
            #expect(breaksA || breaksB, "\(test): f = \(f) is not the coarsest")
        }
        // Far fewer bits than the old fixed 32 wherever the noise is coarse.
        #expect(f < 32, "\(test): f = \(f)")
    }

    /// The charged sensitivity is the one recomputed from the grid (Papers/privacy.md §2), the
    /// noise is σ on that grid, and the accountant certifies the plan's ε from that event.
    @Test(arguments: cases)
    func accountingMatchesTheRecomputedSensitivity(_ test: Case) throws {
        let folder = try TemporaryFolder()
        let manifest = try Self.manifest(
            in: folder, groups: test.groups, anchors: test.anchors, parties: test.parties,
            mechanism: test.mechanism, epsilon: test.epsilon, userBound: test.userBound)
        let plan = try RoundPlan(manifest: manifest)
        let scale = plan.codec.scale
        let k = Double(test.userBound ?? 1)
        let c = Double(min(plan.valueCount, (test.userBound ?? 1) * (test.anchors + 1)))
        let expected =
            test.mechanism == "gaussian"
            ? (2.0.squareRoot().nextUp * k * scale + c.squareRoot().nextUp).nextUp
            : (2 * k * scale + c).nextUp
        #expect(plan.event.sensitivity == expected, "\(test)")
        #expect(plan.event.noise == plan.mechanism.noise * scale)
        #expect(plan.event.dimension == plan.valueCount)
        let spend = try PrivacyAccountant.spend(of: [plan.event], delta: test.mechanism == "gaussian" ? 1e-6 : 0, accountant: .best)
        #expect(spend.epsilon == plan.epsilon && plan.epsilon <= test.epsilon, "\(test)")
        // The price of the coarse grid: the noise is at most 1/16 above the real-valued calibration.
        let fine = try RoundPlan(
            manifest: try Self.manifest(
                in: folder, groups: test.groups, anchors: test.anchors, parties: test.parties,
                mechanism: test.mechanism, epsilon: test.epsilon, userBound: test.userBound,
                crypto: "fractional_bits = 40"))
        #expect(plan.mechanism.noise <= fine.mechanism.noise * (1 + RoundPlan.roundingChargeFraction) * (1 + 1e-9), "\(test)")
    }

    /// The grid is a function of the manifest alone: the same manifest, loaded twice, gives the
    /// same plan (so every party recomputes what the aggregator announces).
    @Test func theGridIsDeterministic() throws {
        let folder = try TemporaryFolder()
        let a = try RoundPlan(manifest: try Self.manifest(in: folder, groups: 32, anchors: 256, parties: 3))
        let b = try RoundPlan(manifest: try Self.manifest(in: folder, groups: 32, anchors: 256, parties: 3))
        #expect(a.codec == b.codec && a.event == b.event && a.noiseBound == b.noiseBound)
        #expect(try a.layout(parties: 3, modulusBits: 2048) == b.layout(parties: 3, modulusBits: 2048))
    }

    /// 32 × 256 with 3 parties and a 2048-bit key: the old fixed grid (f = 32, the largest value
    /// bound) needs 266 ciphertexts (294 with the 8-bit guard band used before); the automatic
    /// grid with max_records = 100 000 needs at most half (121: 68 slots of 28 + 2 bits), and
    /// with the default max_records (2^24) still far fewer.
    @Test func fewerCiphertextsCarryTheSameMatrix() throws {
        let folder = try TemporaryFolder()
        func count(_ crypto: String) throws -> Int {
            let plan = try RoundPlan(manifest: try Self.manifest(in: folder, groups: 32, anchors: 256, parties: 3, crypto: crypto))
            return try plan.layout(parties: 3, modulusBits: 2048).plaintextCount(for: plan.valueCount)
        }
        let old = try count("fractional_bits = 32")
        #expect(old == 266)
        let sized = try count("max_records = 100000")
        #expect(sized == 121)
        #expect(sized * 2 <= old, "\(sized) ciphertexts against \(old)")
        let defaulted = try count("")
        #expect(defaulted < old * 2 / 3, "\(defaulted) ciphertexts against \(old)")
        // An explicit grid with max_records is sized by it too.
        #expect(try count("fractional_bits = 32\nmax_records = 100000") < old)
    }

    /// A party with more records than max_records is refused with one line naming the lever.
    @Test func aValueAboveMaxRecordsIsRefused() throws {
        let folder = try TemporaryFolder()
        let plan = try RoundPlan(manifest: try Self.manifest(in: folder, groups: 3, anchors: 4, parties: 3, crypto: "max_records = 10"))
        let groups = (0..<3).map { "g\($0)" }
        let big = AttentionResult(groups: groups, anchors: plan.anchors, matrix: [Double](repeating: 2.75, count: 12), counts: [11, 0, 0])
        #expect {
            try plan.encode(big, noise: [Int64](repeating: 0, count: plan.valueCount), parties: 3)
        } throws: { error in
            "\(error)".contains("max_records")
        }
    }

    /// With noise off, Paillier and secure aggregation release exactly the same integers on the
    /// automatic grid, and they are the sum of the encoded clear values.
    @Test func bothModesAgreeExactlyWithoutNoise() throws {
        var sums: [String: [Int64]] = [:]
        for mode in ["paillier", "secagg"] {
            let harness = try Harness(parties: 3, threshold: 2, mode: mode, fractionalBits: nil)
            let plan = try RoundPlan(manifest: harness.manifest)
            #expect(plan.automaticGrid && plan.codec.fractionalBits < 32)
            let result = try #require(try harness.run(noNoise: true).result, "\(mode)")
            #expect(result.fractionalBits == plan.codec.fractionalBits)
            var expected = [Int64](repeating: 0, count: plan.valueCount)
            for party in 1...3 {
                let encoded = try plan.encode(harness.data[party]!, noise: [Int64](repeating: 0, count: plan.valueCount), parties: 3)
                for (index, value) in encoded.enumerated() { expected[index] += value }
            }
            #expect(result.sums == expected, "\(mode)")
            sums[mode] = result.sums
        }
        #expect(sums["paillier"] == sums["secagg"])
    }
}
