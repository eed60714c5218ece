import Foundation
import Manifest
import Testing
import _TestSupport

@Suite("Federation manifest: [analysts]")
struct AnalystsSectionTests {
    func load(_ analysts: String, privacy: (String, String)? = nil) throws -> FederationManifest {
        let folder = try TemporaryFolder()
        var text = baseManifest + "\n" + analysts + "\n"
        if let (original, replacement) = privacy {
            #expect(text.contains(original), "fixture: \(original)")
            text = text.replacingOccurrences(of: original, with: replacement)
        }
        return try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: text))
    }

    @Test("absent: no analysts and no cap")
    func absent() throws {
        let manifest = try load("")
        #expect(manifest.analysts == FederationManifest.AnalystsSection())
        #expect(manifest.analysts.names.isEmpty && manifest.analysts.cap == nil)
    }

    @Test("names alone; names with ε cap (δ cap defaults to delta_budget); both caps")
    func parses() throws {
        let names = try load("[analysts]\nnames = [\"alice\", \"bob\", \"0-team_x\"]")
        #expect(names.analysts.names == ["alice", "bob", "0-team_x"])
        #expect(names.analysts.cap == nil)
        let epsilon = try load("[analysts]\nnames = [\"alice\"]\nepsilon_cap = 2")
        #expect(epsilon.analysts.cap == FederationManifest.AnalystCap(epsilon: 2, delta: 1e-5))
        let both = try load("[analysts]\nnames = [\"alice\"]\nepsilon_cap = 10.0\ndelta_cap = 1e-6")
        #expect(both.analysts.cap == FederationManifest.AnalystCap(epsilon: 10, delta: 1e-6))
    }

    @Test("laplace: the δ cap is 0")
    func laplace() throws {
        let laplace = ("mechanism = \"gaussian\"\nepsilon = 1.0\ndelta = 1e-6\n", "mechanism = \"laplace\"\nepsilon = 1.0\n")
        let budget = ("delta_budget = 1e-5\n", "")
        let folder = try TemporaryFolder()
        let text =
            (baseManifest + "\n[analysts]\nnames = [\"alice\"]\nepsilon_cap = 3\n")
            .replacingOccurrences(of: laplace.0, with: laplace.1).replacingOccurrences(of: budget.0, with: budget.1)
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: text))
        #expect(manifest.privacy.mechanism == .laplace)
        #expect(manifest.analysts.cap == FederationManifest.AnalystCap(epsilon: 3, delta: 0))
        let refused = #expect(throws: ManifestError.self) {
            try FederationManifest.load(
                from: writeBaseFederation(in: folder, manifest: text.replacingOccurrences(of: "epsilon_cap = 3", with: "epsilon_cap = 3\ndelta_cap = 1e-6")))
        }
        #expect(refused?.description.contains("'analysts.delta_cap'") == true && refused?.description.contains("laplace") == true)
    }

    /// Each malformed `[analysts]` table, the field the error must name, and a phrase of what it expected.
    static let malformed: [(String, String, String)] = [
        ("[analysts]\nepsilon_cap = 1.0", "analysts.names", "missing"),
        ("[analysts]\nnames = []", "analysts.names", "at least one analyst name"),
        ("[analysts]\nnames = \"alice\"", "analysts.names", "array of strings"),
        ("[analysts]\nnames = [\"alice\", 3]", "analysts.names", "strings"),
        ("[analysts]\nnames = [\"alice\", \"alice\"]", "analysts.names", "distinct analyst names, found \"alice\" twice"),
        ("[analysts]\nnames = [\"Alice\"]", "analysts.names", "1 to 32 characters a-z, 0-9, '_' or '-', starting with a letter or digit, found \"Alice\""),
        ("[analysts]\nnames = [\"-alice\"]", "analysts.names", "starting with a letter or digit"),
        ("[analysts]\nnames = [\"\"]", "analysts.names", "found \"\""),
        ("[analysts]\nnames = [\"al ice\"]", "analysts.names", "a-z, 0-9"),
        ("[analysts]\nnames = [\"\(String(repeating: "a", count: 33))\"]", "analysts.names", "1 to 32"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = 0", "analysts.epsilon_cap", "0 < epsilon_cap"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = -1.0", "analysts.epsilon_cap", "0 < epsilon_cap"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = 10.5", "analysts.epsilon_cap", "≤ privacy.epsilon_budget (10.0)"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = inf", "analysts.epsilon_cap", "0 < epsilon_cap"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = \"2\"", "analysts.epsilon_cap", "number"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = 2.0\ndelta_cap = 0", "analysts.delta_cap", "0 < delta_cap"),
        ("[analysts]\nnames = [\"alice\"]\nepsilon_cap = 2.0\ndelta_cap = 1e-4", "analysts.delta_cap", "≤ privacy.delta_budget (1e-05)"),
        ("[analysts]\nnames = [\"alice\"]\ndelta_cap = 1e-6", "analysts.delta_cap", "needs epsilon_cap"),
        ("[analysts]\nnames = [\"alice\"]\ncap = 1.0", "analysts.cap", "unknown key"),
        ("analysts = [\"alice\"]", "analysts", "table"),
    ]

    @Test("every malformed [analysts] field is named with what was expected", arguments: malformed)
    func malformedField(section: String, field: String, expected: String) throws {
        do {
            // A top-level key must come before the first table.
            let manifest = section.hasPrefix("[") ? try load(section) : try loadTopLevel(section)
            Issue.record("no error for \(section): \(manifest.analysts)")
        } catch let error as ManifestError {
            #expect(error.description.contains("manifest.toml"), "\(error)")
            #expect(error.description.contains("'\(field)'"), "\(error)")
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    func loadTopLevel(_ line: String) throws -> FederationManifest {
        let folder = try TemporaryFolder()
        return try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: line + "\n" + baseManifest))
    }

    @Test(
        "the name rule, by itself",
        arguments: [
            ("a", true), ("0", true), ("a-b_c9", true), ("z" + String(repeating: "9", count: 31), true),
            ("", false), ("A", false), ("_a", false), ("-a", false), ("a.b", false), ("a b", false), ("é", false), ("a/b", false),
            (String(repeating: "a", count: 33), false),
        ])
    func nameRule(name: String, valid: Bool) {
        #expect((FederationManifest.AnalystsSection.problem(withName: name) == nil) == valid, "\(name)")
    }

    @Test("the TOML text reads the section back")
    func textReadsBack() throws {
        let manifest = try load("[analysts]\nnames = [\"alice\", \"bob\"]\nepsilon_cap = 2.5\ndelta_cap = 2e-6")
        let folder = try TemporaryFolder()
        _ = try writeBaseFederation(in: folder)  // the anchors beside the text
        let again = try FederationManifest.parse(
            manifest.tomlText(anchorsPath: "anchors.csv", encoderPath: nil), url: folder.url.appendingPathComponent("manifest.toml"))
        #expect(again.analysts == manifest.analysts)
        let none = try load("")
        let noneAgain = try FederationManifest.parse(
            none.tomlText(anchorsPath: "anchors.csv", encoderPath: nil), url: folder.url.appendingPathComponent("manifest.toml"))
        #expect(noneAgain.analysts == FederationManifest.AnalystsSection())
    }
}
