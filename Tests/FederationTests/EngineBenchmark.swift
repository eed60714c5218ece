import Attention
import DifferentialPrivacy
import Foundation
import Manifest
import Paillier
import Primitives
import Testing

@testable import Federation

/// Timings of whole in-memory rounds at the issue's benchmark shape (32 groups × 256 anchors,
/// 3 parties), with the committed 2048-bit test key. A benchmark, not a test: it runs only with
///
///     FEDSHARE_ENGINE_BENCH=1 swift test --filter EngineBenchmark
@Suite("Engine benchmark", .enabled(if: ProcessInfo.processInfo.environment["FEDSHARE_ENGINE_BENCH"] == "1"))
struct EngineBenchmark {
    @Test(arguments: ["paillier", "secagg"])
    func roundAtBenchmarkShape(mode: String) throws {
        let folder = try TemporaryFolder()
        let groups = 32
        let anchors = 256
        let h = 8
        var random = SeededRandom(seed: 1)
        var anchorText = "anchor," + (0..<h).map { "e\($0)" }.joined(separator: ",") + "\n"
        for a in 0..<anchors {
            anchorText += "a\(a)," + (0..<h).map { _ in String(Double(random.next() % 2000) / 1000 - 1) }.joined(separator: ",") + "\n"
        }
        try Data(anchorText.utf8).write(to: folder.url.appendingPathComponent("anchors.csv"))
        let manifestText = """
            [federation]
            name = "bench"
            parties = [1, 2, 3]
            threshold = 3
            aggregator = "127.0.0.1:7443"

            [attention]
            anchors = "anchors.csv"
            groups = [\((0..<groups).map { "\"g\($0)\"" }.joined(separator: ", "))]
            group_column = "group"

            [privacy]
            mechanism = "gaussian"
            epsilon = 1.0
            delta = 1e-6
            unit = "record"
            epsilon_budget = 100.0
            delta_budget = 1e-3

            [crypto]
            mode = "\(mode)"
            key_bits = 2048
            fractional_bits = 32
            """
        let manifestURL = folder.url.appendingPathComponent("manifest.toml")
        try Data(manifestText.utf8).write(to: manifestURL)
        let manifest = try FederationManifest.load(from: manifestURL)

        var publicKey: ThresholdPublicKey?
        var shares: [ThresholdKeyShare] = []
        if mode == "paillier" {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("TestVectors/threshold-paillier-2048.json")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let key = try ThresholdPublicKey(
                jsonData: try JSONSerialization.data(withJSONObject: try #require(object["publicKey"])),
                policy: .insecureTestOnly)
            shares = try (try #require(object["shares"] as? [Any])).map {
                try ThresholdKeyShare(jsonData: try JSONSerialization.data(withJSONObject: $0), publicKey: key)
            }
            publicKey = key
        }
        var parties: [InMemoryFederation.Party] = []
        for id in 1...3 {
            var matrix = [Double](repeating: 0, count: groups * anchors)
            for i in matrix.indices { matrix[i] = Double(random.next() % 100_000) / 100 }
            let contribution = AttentionResult(
                groups: manifest.attention.groups, anchors: manifest.model.anchorNames, matrix: matrix,
                counts: [Int](repeating: 3000, count: groups))
            parties.append(
                .init(
                    id: id, contribution: contribution, ledger: try PrivacyLedger(path: folder.path("p\(id).sqlite")),
                    keyShare: shares.isEmpty ? nil : shares[id - 1]))
        }
        let federation = try InMemoryFederation(
            manifest: manifest, parties: parties, publicKey: publicKey,
            aggregatorLedger: try PrivacyLedger(path: folder.path("agg.sqlite")),
            store: try RoundStore(path: folder.path("rounds.sqlite")))
        let start = ContinuousClock.now
        let report = try federation.run(using: &random)
        let wall = ContinuousClock.now - start
        #expect(report.result != nil, "\(report.aggregator)")
        let phases = report.phaseSeconds.map { "\($0.phase.rawValue) \(String(format: "%.2f", $0.seconds)) s" }.joined(separator: ", ")
        print(
            "engine bench \(mode): \(groups)×\(anchors)+\(groups) values, 3 parties: wall \(wall); \(phases); bytes sent per party \(report.bytesSent.sorted { $0.key < $1.key }.map(\.value)), received \(report.bytesReceived.sorted { $0.key < $1.key }.map(\.value))"
        )
    }
}
