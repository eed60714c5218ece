import Attention
import Foundation
import Manifest
import Testing
import _TestSupport

/// Inputs found by fuzzing (`scripts/fuzz.sh`, Tests/Fuzz/Regressions), each refused cleanly.
@Suite("Fuzzing regressions (manifest)")
struct ManifestFuzzRegressionTests {
    static let regressions = fuzzRegressionsDirectory

    /// `[,federation]`: toml++ asserted in parse_key and aborted the process (debug builds)
    /// instead of reporting a syntax error.
    @Test("a table header without a key is a syntax error naming the line, not an abort")
    func headerWithoutKey() throws {
        let url = ManifestFuzzRegressionTests.regressions.appendingPathComponent("manifest/crash-toml-header-assert")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect { try FederationManifest.parse(text, url: URL(fileURLWithPath: "/tmp/manifest.toml")) } throws: { error in
            "\(error)".contains("manifest.toml") && "\(error)".contains("line 1")
        }
        for header in ["[ ,a]", "[[=x]]", "\t[!]"] {
            #expect(throws: ManifestError.self) { try FederationManifest.parse(header + "\n", url: URL(fileURLWithPath: "/tmp/manifest.toml")) }
        }
    }
}
