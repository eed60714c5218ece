import Foundation
import Manifest

@testable import Attention  // the record sources are internal; debug builds are testable

/// The federation manifest (TOML) and the party data readers (CSV/TSV, JSON Lines, .npy).
enum AttentionTargets {
    /// A private scratch folder holding the manifest's anchors and encoder files; the fuzzed
    /// data files are written here too.
    static let folder: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fedshare-fuzz-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try? Data("name,e1,e2\nup,1,0\ndown,0,1\n".utf8).write(to: url.appendingPathComponent("anchors.csv"))
        try? Data("1,0\n0,1\n0.5,0.5\n".utf8).write(to: url.appendingPathComponent("encoder.csv"))
        atexit { try? FileManager.default.removeItem(at: AttentionTargets.folder) }
        return url
    }()

    /// The manifest the data targets read with: features f1, f2; groups a, b; user column.
    static let dataManifest = """
        [federation]
        name = "fuzz"
        parties = [1, 2, 3]
        threshold = 2
        aggregator = "localhost:7443"

        [attention]
        anchors = "anchors.csv"
        groups = ["a", "b"]
        features = ["f1", "f2"]
        group_column = "group"
        user_column = "user"
        max_records_per_user = 2

        [privacy]
        mechanism = "gaussian"
        epsilon = 1.0
        delta = 1e-6
        unit = "user"
        epsilon_budget = 10.0
        delta_budget = 1e-5

        [crypto]
        mode = "secagg"
        """

    static let layout: DataLayout = {
        guard let manifest = try? FederationManifest.parse(dataManifest, url: folder.appendingPathComponent("manifest.toml")) else {
            report("fedshare-fuzz: the data manifest does not parse")
            exit(2)
        }
        return DataLayout(settings: manifest.attention, model: manifest.model)
    }()

    /// Writes `bytes` to the scratch folder under `name`.
    static func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = folder.appendingPathComponent(name).path
        guard let handle = fopen(path, "wb") else {
            report("fedshare-fuzz: cannot write \(path)")
            exit(2)
        }
        if !bytes.isEmpty { _ = fwrite(bytes, 1, bytes.count, handle) }
        fclose(handle)
        return path
    }

    /// `FederationManifest.parse` (as `load` calls it after the UTF-8 check); parsing is
    /// deterministic and an accepted manifest satisfies its own documented constraints.
    static func manifest(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        let url = folder.appendingPathComponent("manifest.toml")
        guard let manifest = try? FederationManifest.parse(text, url: url, digest: [1]) else { return }
        invariant(manifest.parties.count >= 2 && Set(manifest.parties).count == manifest.parties.count, "parties: \(manifest.parties)")
        invariant(manifest.threshold >= 1 && manifest.threshold <= manifest.parties.count, "threshold \(manifest.threshold)")
        invariant(!manifest.model.groups.isEmpty && manifest.model.featureDimension >= 1, "empty model")
        invariant(manifest.recordsPerPrivacyUnit >= 1, "records per privacy unit \(manifest.recordsPerPrivacyUnit)")
        let again = try? FederationManifest.parse(text, url: url, digest: [1])
        invariant(again == manifest, "parsing the same manifest twice gives different values")
    }

    static func csv(_ bytes: [UInt8]) { delimited(bytes, name: "data.csv") }
    static func tsv(_ bytes: [UInt8]) { delimited(bytes, name: "data.tsv") }

    static func delimited(_ bytes: [UInt8], name: String) {
        let path = file(name, bytes)
        guard let source = try? DelimitedRecordSource(path: path, displayName: name, layout: layout) else { return }
        drain(source, limit: bytes.count + 1)
    }

    static func jsonLines(_ bytes: [UInt8]) {
        let path = file("data.jsonl", bytes)
        guard let source = try? JSONLinesRecordSource(path: path, displayName: "data.jsonl", layout: layout) else { return }
        drain(source, limit: bytes.count + 1)
    }

    /// A `.npy` array read row by row, then as a record source with a side file of labels.
    static func numpy(_ bytes: [UInt8]) {
        let path = file("data.npy", bytes)
        guard let array = try? NumPyFile(path: path, displayName: "data.npy") else { return }
        invariant(array.shape.count == 1 || array.shape.count == 2, "shape \(array.shape)")
        let columns = array.columns
        var rows = 0
        if columns > 0 {
            var buffer = [Double](repeating: 0, count: 64 * columns)
            while let read = try? buffer.withUnsafeMutableBufferPointer({ try array.readRows(into: $0.baseAddress!, count: 64) }), read > 0 {
                rows += read
            }
            invariant(rows == array.rows, "read \(rows) of \(array.rows) rows")
        }
        guard array.shape.count == 2, array.columns == layout.featureDimension, array.rows <= 64 else { return }
        let side = file("data.groups.csv", Array(("user,group\n" + String(repeating: "u,a\n", count: array.rows)).utf8))
        guard
            let source = try? NumPyRecordSource(
                path: path, displayName: "data.npy", sidePath: side,
                sideName: "data.groups.csv", layout: layout)
        else { return }
        drain(source, limit: array.rows + 1)
    }

    /// Reads every row; a good record has a known group and finite features.
    static func drain(_ source: RecordSource, limit: Int) {
        let d = layout.featureDimension
        let features = UnsafeMutablePointer<Double>.allocate(capacity: d)
        defer { features.deallocate() }
        var user = ""
        var rows = 0
        while let outcome = try? source.next(features: features, user: &user) {
            rows += 1
            invariant(rows <= limit, "more rows than the input could hold")
            if case .record(let group) = outcome {
                invariant(group >= 0 && Int(group) < layout.groups.count, "group index \(group)")
                for k in 0..<d { invariant(features[k].isFinite, "feature \(k) is \(features[k])") }
            }
        }
    }
}
