import ArgumentParser
import Federation
import Foundation
import Manifest
import Primitives

/// `fedshare bench e2e`: a whole federation round on synthetic data, timed per phase.
struct BenchE2E: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Time a whole federation round on synthetic data (per phase, bytes per party).",
        discussion: """
            Writes a synthetic federation (G groups, M anchors of dimension --dimension, R records \
            per party, fixed seed) to a temporary folder and runs it with `fedshare simulate` \
            machinery: a provisioned kit, a real threshold key, the aggregator and every party \
            over gRPC with mutual TLS on loopback. Reports the wall time of each phase and the \
            bytes each party sent and received.
            """)

    @Option(name: .long, help: "Number of parties.")
    var parties = 3

    @Option(name: .long, help: "Records per party.")
    var records = 10_000

    @Option(name: .long, help: "Groups (rows of the result).")
    var groups = 32

    @Option(name: .long, help: "Anchors (columns of the result).")
    var anchors = 256

    @Option(name: .long, help: "Embedding dimension h (= features d).")
    var dimension = 16

    @Option(name: .long, help: "paillier or secagg.")
    var mode = ModeArgument(.paillier)

    @Option(name: .long, help: "Threshold Paillier modulus size (2048, 3072 or 4096).")
    var keyBits = 2048

    @Option(name: .long, help: "Fixed-point fractional bits (default: chosen from the noise and value range).")
    var fractionalBits: Int?

    @Option(
        name: .long,
        help: "Who decrypts (Paillier): threshold (the first t contributors; another is asked only when one fails) or everyone (every contributor at once).")
    var decryptionCommittee = DecryptionCommittee.threshold

    @Flag(
        inversion: .prefixedNo,
        help: "Declare max_records = --records in the manifest, so the values' range sizes the Paillier slots.")
    var maxRecords = true

    @OptionGroup
    var output: JSONOutputOptions

    func validate() throws {
        guard (2...64).contains(parties) else { throw ValidationError("--parties must be between 2 and 64") }
        guard (1...10_000_000).contains(records) else { throw ValidationError("--records must be between 1 and 10000000") }
        guard (1...4096).contains(groups), (1...4096).contains(anchors), (1...1024).contains(dimension) else {
            throw ValidationError("--groups and --anchors must be between 1 and 4096, --dimension between 1 and 1024")
        }
        try mode.validate()
        if let fractionalBits, !(8...52).contains(fractionalBits) { throw ValidationError("--fractional-bits must be between 8 and 52") }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-bench-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var random = SeededRandom(seed: 20_261_129)
        func value() -> String { String(format: "%.4f", Double.random(in: -1..<1, using: &random)) }

        var anchorsCSV = "name," + (1...dimension).map { "e\($0)" }.joined(separator: ",") + "\n"
        for m in 0..<anchors { anchorsCSV += "a\(m)," + (0..<dimension).map { _ in value() }.joined(separator: ",") + "\n" }
        try Data(anchorsCSV.utf8).write(to: folder.appendingPathComponent("anchors.csv"))
        let groupNames = (0..<groups).map { "g\($0)" }
        let features = (1...dimension).map { "f\($0)" }
        let manifest = """
            [federation]
            name = "bench-e2e"
            parties = [\((1...parties).map(String.init).joined(separator: ", "))]
            threshold = \(max(2, parties / 2 + 1))
            aggregator = "127.0.0.1:7443"

            [attention]
            anchors = "anchors.csv"
            groups = [\(groupNames.map { "\"\($0)\"" }.joined(separator: ", "))]
            features = [\(features.map { "\"\($0)\"" }.joined(separator: ", "))]

            [privacy]
            mechanism = "gaussian"
            epsilon = 1.0
            delta = 1e-6
            epsilon_budget = 1000.0
            delta_budget = 1e-3

            [crypto]
            mode = "\(mode.text)"
            key_bits = \(keyBits)
            \(maxRecords ? "max_records = \(records)" : "")
            \(fractionalBits.map { "fractional_bits = \($0)" } ?? "")
            """
        try Data(manifest.utf8).write(to: folder.appendingPathComponent("manifest.toml"))
        var data: [Int: URL] = [:]
        for party in 1...parties {
            let url = folder.appendingPathComponent("party-\(party).csv")
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            var chunk = "group," + features.joined(separator: ",") + "\n"
            for record in 0..<records {
                chunk += groupNames[(record &* 7 &+ party) % groups] + "," + (0..<dimension).map { _ in value() }.joined(separator: ",") + "\n"
                if chunk.utf8.count > 1 << 20 {
                    handle.write(Data(chunk.utf8))
                    chunk = ""
                }
            }
            handle.write(Data(chunk.utf8))
            data[party] = url
        }
        if !output.json {
            print(
                "bench e2e: \(parties) parties × \(records) records, \(groups) groups × \(anchors) anchors (h = \(dimension)), \(mode.text)"
                    + (mode.mode == .paillier ? ", \(keyBits)-bit key" : ""))
        }
        let start = ContinuousClock.now
        let loaded = try FederationManifest.load(from: folder.appendingPathComponent("manifest.toml"))
        var configuration = LocalFederation.Configuration(
            manifest: loaded, data: data, outputFolder: folder.appendingPathComponent("out"),
            workFolder: folder.appendingPathComponent("work"))
        configuration.overrides.keyBits = keyBits
        configuration.committee = decryptionCommittee
        try await LocalFederation(configuration).runPrintingSummary(json: output.json, start: start, kits: nil)
    }
}
