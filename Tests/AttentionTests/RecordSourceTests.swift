import Foundation
import Manifest
import Primitives
import Testing
import _TestSupport

@testable import Attention

/// The same six records in every format; the manifest is `baseManifest` (anchors up, down;
/// groups a, b; features f1, f2).
private let goodCSV = """
    f1,group,f2,note
    0.5,a,1.5,x
    -1,b,2,"quoted, with comma"
    3,a,0,y
    0.25,b,0.75,z
    1e-1,a,-2.5,w
    2,b,2,v
    """

private let expectedFeatures: [Double] = [0.5, 1.5, -1, 2, 3, 0, 0.25, 0.75, 0.1, -2.5, 2, 2]
private let expectedGroups = [0, 1, 0, 1, 0, 1]

@Suite("Data readers")
struct RecordSourceTests {
    func loadManifest(_ folder: TemporaryFolder, _ text: String = baseManifest) throws -> FederationManifest {
        try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: text))
    }

    func expected(_ manifest: FederationManifest) throws -> AttentionResult {
        let accumulator = AttentionAccumulator(model: manifest.model)
        try accumulator.add(features: expectedFeatures, groups: expectedGroups)
        return accumulator.result()
    }

    func check(_ result: AttentionResult, against reference: AttentionResult) {
        #expect(result.counts == reference.counts)
        #expect(maxRelativeError(result.matrix, reference.matrix) < 1e-12)
    }

    @Test("CSV with a header, quoted fields, an ignored column and a trailing blank line")
    func csv() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        let data = try folder.write("party.csv", goodCSV + "\n\n")
        let result = try LocalAttention.compute(manifest: manifest, dataURL: data)
        try check(result, against: expected(manifest))
        #expect(result.report.recordsUsed == 6)
        #expect(result.groups == ["a", "b"])
        #expect(result.anchors == ["up", "down"])
    }

    @Test("TSV with CRLF line ends and a byte-order mark")
    func tsv() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        let text =
            "\u{FEFF}"
            + goodCSV.replacingOccurrences(of: ",", with: "\t")
            .replacingOccurrences(of: "\"quoted\t with comma\"", with: "q").replacingOccurrences(of: "\n", with: "\r\n")
        let data = try folder.write("party.tsv", text)
        try check(LocalAttention.compute(manifest: manifest, dataURL: data), against: expected(manifest))
    }

    @Test("features absent from the manifest: every column but group, user and ignored")
    func allColumns() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder, baseManifest.replacingOccurrences(of: "features = [\"f1\", \"f2\"]", with: "ignore_columns = [\"note\"]"))
        let data = try folder.write("party.csv", goodCSV)
        try check(LocalAttention.compute(manifest: manifest, dataURL: data), against: expected(manifest))
        let withoutIgnore = try loadManifest(folder, baseManifest.replacingOccurrences(of: "features = [\"f1\", \"f2\"]", with: ""))
        #expect { try LocalAttention.compute(manifest: withoutIgnore, dataURL: data) } throws: {
            "\($0)".contains("party.csv") && "\($0)".contains("expected 2 feature columns")
        }
    }

    @Test("JSON Lines, with numbers as group labels rejected only when unknown")
    func jsonLines() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        let lines = [
            #"{"f1": 0.5, "group": "a", "f2": 1.5, "extra": [1]}"#.replacingOccurrences(of: ", \"extra\": [1]", with: ""),
            #"{"group":"b","f1":-1,"f2":2,"note":"x, \"y\" \u00e9"}"#,
            #"{"f2": 0, "f1": 3, "group": "a"}"#,
            #"  {"f1": 0.25, "f2": 0.75, "group": "b", "flag": true, "none": null}  "#,
            #"{"f1": 1e-1, "f2": -2.5, "group": "a"}"#,
            "",
            #"{"f1": 2, "f2": 2, "group": "b"}"#,
        ]
        let data = try folder.write("party.jsonl", lines.joined(separator: "\n"))
        try check(LocalAttention.compute(manifest: manifest, dataURL: data), against: expected(manifest))
        // Without named features: the first object's keys in order, minus the group.
        let unnamed = try loadManifest(folder, baseManifest.replacingOccurrences(of: "features = [\"f1\", \"f2\"]", with: ""))
        let ordered = try folder.write(
            "ordered.ndjson",
            [
                #"{"f1": 0.5, "f2": 1.5, "group": "a"}"#, #"{"f1": -1, "f2": 2, "group": "b"}"#, #"{"f1": 3, "f2": 0, "group": "a"}"#,
                #"{"f1": 0.25, "f2": 0.75, "group": "b"}"#, #"{"f1": 0.1, "f2": -2.5, "group": "a"}"#, #"{"f1": 2, "f2": 2, "group": "b"}"#,
            ].joined(separator: "\n"))
        try check(LocalAttention.compute(manifest: unnamed, dataURL: ordered), against: expected(manifest))
    }

    @Test(
        "NumPy float64 and float32, versions 1 and 2, both byte orders, with a side file",
        arguments: [
            ("<f8", UInt8(1)), ("<f8", UInt8(2)), (">f8", UInt8(1)), ("<f4", UInt8(1)), (">f4", UInt8(2)),
        ])
    func numpy(descr: String, version: UInt8) throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        let data = try folder.write("party.npy", bytes: npyBytes(expectedFeatures, shape: [6, 2], descr: descr, version: version))
        try folder.write("party.groups.csv", "group\na\nb\na\nb\na\nb\n")
        let result = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(chunkSize: 4))
        let reference = try expected(manifest)
        #expect(result.counts == reference.counts)
        // float32 rounds the features (0.1 is not exact), so compare loosely there.
        #expect(maxRelativeError(result.matrix, reference.matrix) < (descr.hasSuffix("f4") ? 1e-6 : 1e-12))
        // An explicit side file in TSV.
        let side = try folder.write("labels.tsv", "id\tgroup\n1\ta\n2\tb\n3\ta\n4\tb\n5\ta\n6\tb\n")
        let explicit = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(sideFile: side))
        #expect(explicit.matrix == result.matrix)
    }

    /// (file name, contents, phrases the error must contain).
    static let badCSV: [(String, String, [String])] = [
        ("p.csv", "f1,group,f2\n1,a,2\n1,a\n", ["p.csv", "line 3", "expected 3 columns, found 2"]),
        ("p.csv", "f1,group,f2\n1,a,2\n1,a,2,9\n", ["p.csv", "line 3", "found 4"]),
        ("p.csv", "f1,group,f2\n1,a,2\n1,a,two\n", ["p.csv", "line 3", "column 'f2'", "'two' is not a number"]),
        ("p.csv", "f1,group,f2\n1,a,2\n,a,2\n", ["p.csv", "line 3", "column 'f1'", "not a number"]),
        ("p.csv", "f1,group,f2\n1,a,2\nNaN,a,2\n", ["p.csv", "line 3", "column 'f1'", "not a finite number"]),
        ("p.csv", "f1,group,f2\n1,a,2\n1,a,-inf\n", ["p.csv", "line 3", "column 'f2'", "not a finite number"]),
        ("p.csv", "f1,group,f2\n1,a,2\n1,a,1e999\n", ["p.csv", "line 3", "column 'f2'", "not a finite number"]),
        ("p.csv", "f1,group,f2\n1,a,2\n1,c,2\n", ["p.csv", "line 3", "column 'group'", "unknown group 'c'"]),
        ("p.csv", "f1,group,f2\n1,a,2\n1,\"a,2\n", ["p.csv", "line 3", "unterminated quoted field"]),
        ("p.tsv", "f1\tgroup\tf2\n1\ta\t2\n1\tz\t2\n", ["p.tsv", "line 3", "unknown group 'z'"]),
        ("p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": 1, \"group\": \"a\"}\n", ["p.jsonl", "line 2", "column 'f2'", "missing"]),
        (
            "p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": \"x\", \"f2\": 2, \"group\": \"a\"}\n",
            ["p.jsonl", "line 2", "column 'f1'", "expected a number"]
        ),
        (
            "p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": NaN, \"f2\": 2, \"group\": \"a\"}\n",
            ["p.jsonl", "line 2", "column 'f1'", "not a finite number"]
        ),
        (
            "p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": 1, \"f2\": 2, \"group\": \"q\"}\n",
            ["p.jsonl", "line 2", "column 'group'", "unknown group 'q'"]
        ),
        ("p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": 1, \"f2\": 2}\n", ["p.jsonl", "line 2", "group field is missing"]),
        ("p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n[1, 2]\n", ["p.jsonl", "line 2", "JSON object"]),
        ("p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": 1, \"f2\": {\"x\": 1}, \"group\": \"a\"}\n", ["p.jsonl", "line 2", "nested"]),
        ("p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": 1, \"f2\": 2, \"group\": \"a\"\n", ["p.jsonl", "line 2", "unterminated"]),
        ("p.jsonl", "{\"f1\": 1, \"f2\": 2, \"group\": \"a\"}\n{\"f1\": 1, \"f1\": 2, \"f2\": 2, \"group\": \"a\"}\n", ["p.jsonl", "line 2", "twice"]),
    ]

    @Test("every bad row is an error naming file, line and column; with skip it is counted", arguments: badCSV)
    func badRows(name: String, contents: String, phrases: [String]) throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        let data = try folder.write(name, contents)
        do {
            _ = try LocalAttention.compute(manifest: manifest, dataURL: data)
            Issue.record("no error for \(name): \(contents)")
        } catch let error as AttentionError {
            for phrase in phrases { #expect(error.description.contains(phrase), "\(error)") }
        }
        let skipped = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(skipBadRows: true))
        #expect(skipped.report.badRowsSkipped == 1)
        #expect(skipped.report.recordsUsed == 1)
        #expect(skipped.report.badRowExamples.count == 1)
        #expect(abs(skipped.total - 1) < 1e-12)
    }

    @Test("file-level problems: header, format, missing file")
    func fileProblems() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        let cases: [(String, String, String)] = [
            ("empty.csv", "", "empty"),
            ("nogroup.csv", "f1,f2\n1,2\n", "no group column 'group'"),
            ("nofeature.csv", "f1,group\n1,a\n", "feature column 'f2'"),
            ("duplicate.csv", "f1,f1,group,f2\n1,1,a,2\n", "twice"),
            ("data.parquet", "x", "unknown data format"),
        ]
        for (name, contents, phrase) in cases {
            let url = try folder.write(name, contents)
            #expect { try LocalAttention.compute(manifest: manifest, dataURL: url, options: .init(skipBadRows: true)) } throws: {
                "\($0)".contains(name) && "\($0)".contains(phrase)
            }
        }
        #expect { try LocalAttention.compute(manifest: manifest, dataURL: folder.url.appendingPathComponent("absent.csv")) } throws: {
            "\($0)".contains("absent.csv")
        }
    }

    @Test("malformed .npy files and side files")
    func badNumPy() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        try folder.write("x.groups.csv", "group\na\nb\n")
        let good = npyBytes([1, 2, 3, 4], shape: [2, 2])
        let cases: [([UInt8], String)] = [
            (Array("not numpy at all".utf8), "bad magic"),
            (npyBytes([1, 2, 3, 4], shape: [2, 2], descr: "<i8"), "dtype"),
            (npyBytes([1, 2, 3, 4], shape: [2, 2], fortran: true), "Fortran"),
            (Array(good.dropLast(3)), "truncated"),
            (npyBytes([1, 2, 3, 4, 5, 6], shape: [2, 3]), "expected 2 features"),
            (npyBytes([1, 2, 3, 4], shape: [4]), "two-dimensional"),
            (npyBytes([1, 2, 3, 4], shape: [2, 2], version: 9), "version"),
        ]
        for (bytes, phrase) in cases {
            let url = try folder.write("x.npy", bytes: bytes)
            #expect { try LocalAttention.compute(manifest: manifest, dataURL: url) } throws: {
                "\($0)".contains("x.npy") && "\($0)".contains(phrase)
            }
        }
        // Non-finite values: a bad row naming the record and column; skippable.
        let nan = try folder.write("x.npy", bytes: npyBytes([1, 2, .nan, 4], shape: [2, 2]))
        #expect { try LocalAttention.compute(manifest: manifest, dataURL: nan) } throws: {
            "\($0)".contains("x.npy record 2, column 1") && "\($0)".contains("not a finite number")
        }
        let skipped = try LocalAttention.compute(manifest: manifest, dataURL: nan, options: .init(skipBadRows: true))
        #expect(skipped.report.badRowsSkipped == 1 && skipped.counts == [1, 0])
        // Side files: too short, too long, unknown group, missing.
        let data = try folder.write("x.npy", bytes: good)
        for (side, phrase) in [
            ("group\na\n", "fewer rows"), ("group\na\nb\na\n", "more rows"), ("group\na\nzz\n", "line 3, column 'group': unknown group 'zz'"),
        ] {
            try folder.write("x.groups.csv", side)
            #expect { try LocalAttention.compute(manifest: manifest, dataURL: data) } throws: {
                "\($0)".contains("x.groups.csv") && "\($0)".contains(phrase)
            }
        }
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("x.groups.csv"))
        #expect { try LocalAttention.compute(manifest: manifest, dataURL: data) } throws: { "\($0)".contains("x.groups.csv") }
    }

    @Test("memory is bounded by the chunk: a file larger than the read buffer and many chunks")
    func streaming() throws {
        let folder = try TemporaryFolder()
        let manifest = try loadManifest(folder)
        var random = SeededRandom(seed: 5)
        var text = "f1,group,f2\n"
        var features: [Double] = []
        var groups: [Int] = []
        for _ in 0..<40_000 {
            let x = Double.random(in: -3...3, using: &random)
            let y = Double.random(in: -3...3, using: &random)
            let g = Int.random(in: 0..<2, using: &random)
            text += "\(x),\(g == 0 ? "a" : "b"),\(y)\n"
            features += [x, y]
            groups.append(g)
        }
        let data = try folder.write("big.csv", text)
        let result = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(chunkSize: 1000))
        let reference = referenceAttention(model: manifest.model, features: features, groups: groups)
        #expect(result.counts == reference.counts)
        #expect(maxRelativeError(result.matrix, reference.matrix) < 1e-9)
    }
}

@Suite("Pipelined chunks")
struct PipelineTests {
    @Test("an overflowing record is reported with its number across alternating chunks")
    func overflowNumbering() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder))
        try folder.write("anchors.csv", "name,e1,e2\nup,1e300,0\ndown,0,1\n")
        let strict = try FederationManifest.load(from: folder.url.appendingPathComponent("manifest.toml"))
        let data = try folder.write("p.csv", "f1,group,f2\n1,a,1\n1,b,1\n1,a,1\n1,b,1\n1,a,1\n1e10,a,1\n1,a,1\n")
        for chunk in [1, 2, 4, 100] {
            #expect(throws: AttentionError.scoreOverflow(record: 6)) {
                try LocalAttention.compute(manifest: strict, dataURL: data, options: .init(chunkSize: chunk))
            }
        }
        // The same file with the ordinary anchors: every chunk size gives the same matrix.
        let reference = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(chunkSize: 100))
        for chunk in [1, 2, 3] {
            let result = try LocalAttention.compute(manifest: manifest, dataURL: data, options: .init(chunkSize: chunk))
            #expect(result.counts == reference.counts)
            #expect(maxRelativeError(result.matrix, reference.matrix) < 1e-14)
        }
    }
}

@Suite("Reader edge cases")
struct ReaderEdgeTests {
    @Test("a TSV row of empty fields is a bad row, not a blank line; a zero chunk size is clamped")
    func emptyFields() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder))
        let data = try folder.write("p.tsv", "f1\tgroup\tf2\n1\ta\t2\n\t\t\n   \n")
        #expect { try LocalAttention.compute(manifest: manifest, dataURL: data) } throws: { "\($0)".contains("p.tsv line 3") }
        let clean = try folder.write("q.csv", "f1,group,f2\n1,a,2\n3,b,4\n")
        let result = try LocalAttention.compute(manifest: manifest, dataURL: clean, options: .init(chunkSize: 0))
        #expect(result.counts == [1, 1])
    }
}
