import Attention
import Foundation
import Manifest
import Testing
import _TestSupport

@Suite("Federation manifest")
struct ManifestTests {
    @Test("the three-worlds manifest loads with its anchors")
    func threeWorlds() throws {
        let manifest = try FederationManifest.load(from: examplesDirectory.appendingPathComponent("three-worlds/manifest.toml"))
        #expect(manifest.name == "three-worlds")
        #expect(manifest.parties == [1, 2, 3])
        #expect(manifest.threshold == 2)
        #expect(manifest.aggregator == "127.0.0.1:7443")
        #expect(manifest.model.anchorNames == ["sports", "music", "fashion", "gaming"])
        #expect(manifest.model.groups == ["explorers", "creators", "traders"])
        #expect(manifest.model.scale == 0.5)
        #expect(manifest.model.featureDimension == 4)
        #expect(manifest.attention.userColumn == "user")
        #expect(manifest.attention.maxRecordsPerUser == 3)
        #expect(manifest.privacy.mechanism == .gaussian)
        #expect(manifest.privacy.unit == .user)
        #expect(manifest.recordsPerPrivacyUnit == 3)
        #expect(manifest.crypto == .init(mode: .paillier, keyBits: 3072, fractionalBits: 32))
        #expect(manifest.digest.count == 32)
    }

    @Test("defaults: group column, unit, crypto, zero bias, encoder from a relative path")
    func defaults() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("model"), withIntermediateDirectories: true)
        try folder.write("model/encoder.csv", "1,0\n0,1\n1,1\n")
        let text =
            baseManifest
            .replacingOccurrences(of: "features = [\"f1\", \"f2\"]\n", with: "encoder = \"model/encoder.csv\"\nbias = [0.5, -0.5]\n")
            .replacingOccurrences(of: "group_column = \"group\"\n", with: "")
            .replacingOccurrences(of: "[crypto]\nmode = \"secagg\"", with: "")
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: text))
        #expect(manifest.attention.groupColumn == "group")
        #expect(manifest.privacy.unit == .record)
        #expect(manifest.crypto == .init(mode: .paillier, keyBits: 3072, fractionalBits: nil, maxRecords: 1 << 24))
        #expect(manifest.model.featureDimension == 3)
        #expect(manifest.model.bias == [0.5, -0.5])
        #expect(manifest.model.scale == 1 / 2.0.squareRoot())
        #expect(manifest.attention.features == nil)
    }

    /// Each malformed manifest, the field the error must name, and a phrase of what it expected.
    static let malformed: [(String, String, String, String)] = [
        ("name = \"test\"", "name = \"\"", "federation.name", "letters"),
        ("name = \"test\"", "name = \"a b/c\"", "federation.name", "letters"),
        ("name = \"test\"", "name = 3", "federation.name", "string"),
        ("name = \"test\"\n", "", "federation.name", "missing"),
        ("parties = [1, 2, 3]", "parties = [1]", "federation.parties", "at least two"),
        ("parties = [1, 2, 3]", "parties = [1, 1, 2]", "federation.parties", "distinct"),
        ("parties = [1, 2, 3]", "parties = [0, 1, 2]", "federation.parties", "positive"),
        ("parties = [1, 2, 3]", "parties = [\"a\", \"b\"]", "federation.parties", "integers"),
        ("parties = [1, 2, 3]", "parties = 3", "federation.parties", "array"),
        ("threshold = 2", "threshold = 4", "federation.threshold", "from 1 to 3"),
        ("threshold = 2", "threshold = 0", "federation.threshold", "from 1 to 3"),
        ("threshold = 2", "threshold = 1.5", "federation.threshold", "integer"),
        // secagg: 2t ≤ parties lets an equivocating aggregator unmask one party's input.
        ("threshold = 2", "threshold = 1", "federation.threshold", "the smallest safe threshold is 2"),
        (
            "parties = [1, 2, 3]\nthreshold = 2", "parties = [1, 2, 3, 4]\nthreshold = 2", "federation.threshold",
            "equivocates on the dead list could unmask one party's input; the smallest safe threshold is 3"
        ),
        (
            "parties = [1, 2, 3]\nthreshold = 2", "parties = [1, 2, 3, 4, 5, 6, 7]\nthreshold = 3", "federation.threshold",
            "the smallest safe threshold is 4"
        ),
        ("aggregator = \"localhost:7443\"", "aggregator = \"localhost\"", "federation.aggregator", "host:port"),
        ("aggregator = \"localhost:7443\"", "aggregator = \"localhost:70000\"", "federation.aggregator", "host:port"),
        ("aggregator = \"localhost:7443\"", "aggregator = \"[::1]:7443\"\ncolour = \"red\"", "federation.colour", "unknown key"),
        ("anchors = \"anchors.csv\"", "anchors = \"\"", "attention.anchors", "file path"),
        ("anchors = \"anchors.csv\"", "anchors = \"anchors.csv\"\nencoder = \"\"", "attention.encoder", "file path"),
        ("anchors = \"anchors.csv\"", "anchors = \"anchors.csv\"\nscale = -1.0", "attention.scale", "positive"),
        ("anchors = \"anchors.csv\"", "anchors = \"anchors.csv\"\nscale = \"big\"", "attention.scale", "number"),
        ("anchors = \"anchors.csv\"", "anchors = \"anchors.csv\"\nbias = [1.0, 2.0, 3.0]", "attention.bias", "one number or 2 numbers"),
        ("anchors = \"anchors.csv\"", "anchors = \"anchors.csv\"\nbias = [1.0, \"x\"]", "attention.bias", "numbers"),
        ("anchors = \"anchors.csv\"", "anchors = \"anchors.csv\"\nbias = nan", "attention.bias", "finite"),
        ("groups = [\"a\", \"b\"]", "groups = []", "attention.groups", "at least one"),
        ("groups = [\"a\", \"b\"]", "groups = [\"a\", \"a\"]", "attention.groups", "distinct"),
        ("groups = [\"a\", \"b\"]", "groups = [\"a\", \"\"]", "attention.groups", "non-empty"),
        ("groups = [\"a\", \"b\"]", "groups = \"a\"", "attention.groups", "array of strings"),
        ("groups = [\"a\", \"b\"]\n", "", "attention.groups", "missing"),
        ("features = [\"f1\", \"f2\"]", "features = [\"f1\"]", "attention.features", "expected 2 column names"),
        ("features = [\"f1\", \"f2\"]", "features = [\"f1\", \"f1\"]", "attention.features", "distinct"),
        ("features = [\"f1\", \"f2\"]", "features = [\"f1\", \"group\"]", "attention.features", "group column"),
        ("features = [\"f1\", \"f2\"]", "features = []", "attention.features", "at least one"),
        ("group_column = \"group\"", "group_column = \"\"", "attention.group_column", "column name"),
        ("group_column = \"group\"", "group_column = \"group\"\nuser_column = \"group\"", "attention.user_column", "differ"),
        ("group_column = \"group\"", "group_column = \"group\"\nmax_records_per_user = 3", "attention.max_records_per_user", "user_column"),
        ("group_column = \"group\"", "group_column = \"group\"\nuser_column = \"u\"\nmax_records_per_user = 0", "attention.max_records_per_user", "positive"),
        ("group_column = \"group\"", "group_column = \"group\"\nignore_columns = [1]", "attention.ignore_columns", "strings"),
        ("group_column = \"group\"", "group_column = \"group\"\nuser_colum = \"u\"", "attention.user_colum", "unknown key"),
        ("mechanism = \"gaussian\"", "mechanism = \"exponential\"", "privacy.mechanism", "\"gaussian\" or \"laplace\""),
        ("mechanism = \"gaussian\"", "mechanism = \"laplace\"", "privacy.delta", "0 (or no delta)"),
        ("epsilon = 1.0", "epsilon = 0.0", "privacy.epsilon", "positive"),
        ("epsilon = 1.0", "epsilon = inf", "privacy.epsilon", "positive finite"),
        ("epsilon = 1.0\n", "", "privacy.epsilon", "missing"),
        ("delta = 1e-6", "delta = 1.0", "privacy.delta", "0 < delta < 1"),
        ("delta = 1e-6\n", "", "privacy.delta", "missing"),
        ("delta = 1e-6", "delta = 1e-6\nunit = \"party\"", "privacy.unit", "\"record\" or \"user\""),
        ("delta = 1e-6", "delta = 1e-6\nunit = \"user\"", "privacy.unit", "user_column"),
        ("epsilon_budget = 10.0", "epsilon_budget = 0.5", "privacy.epsilon_budget", "≥ epsilon"),
        ("epsilon_budget = 10.0\n", "", "privacy.epsilon_budget", "missing"),
        ("delta_budget = 1e-5", "delta_budget = 1e-7", "privacy.delta_budget", "delta"),
        ("mode = \"secagg\"", "mode = \"rsa\"", "crypto.mode", "\"paillier\" or \"secagg\""),
        ("mode = \"secagg\"", "mode = \"secagg\"\nkey_bits = 1024", "crypto.key_bits", "2048, 3072 or 4096"),
        ("mode = \"secagg\"", "mode = \"secagg\"\nfractional_bits = 60", "crypto.fractional_bits", "8 to 52"),
        ("mode = \"secagg\"", "mode = \"secagg\"\nfractional_bits = \"x\"", "crypto.fractional_bits", "integer"),
        ("[crypto]", "[cryptography]", "cryptography", "unknown key"),
        ("group_column = \"group\"", "group_column = \"group\"\nitem_column = \"\"", "attention.item_column", "column name"),
        ("group_column = \"group\"", "group_column = \"group\"\nitem_column = \"group\"", "attention.item_column", "differ"),
        ("group_column = \"group\"", "group_column = \"group\"\nitem_column = \"f1\"", "attention.features", "item column"),
        ("mode = \"secagg\"", "mode = \"secagg\"\n[policy]\naccept_filters = [\"colour\"]", "policy.accept_filters", "\"text\", \"where\""),
        ("mode = \"secagg\"", "mode = \"secagg\"\n[policy]\naccept_keys = [\"\"]", "policy.accept_keys", "non-empty"),
        ("mode = \"secagg\"", "mode = \"secagg\"\n[policy]\nmin_records = -1", "policy.min_records", "≥ 0"),
        ("mode = \"secagg\"", "mode = \"secagg\"\n[policy]\nminimum = 3", "policy.minimum", "unknown key"),
        ("[privacy]", "[privacy_]", "privacy", "missing"),
    ]

    @Test("[policy]: the manifest's, a world's own file over it, and what each declines")
    func policy() throws {
        let folder = try TemporaryFolder()
        let text = baseManifest + "\n[policy]\naccept_filters = [\"where\", \"time\"]\naccept_keys = [\"kind\"]\nmin_records = 5\n"
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: text))
        #expect(manifest.policy == RequestPolicy(acceptedFilters: [.where, .time], acceptedKeys: ["kind"], minimumRecords: 5))
        #expect(manifest.policy.refusal(filters: [.where], keys: ["kind"]) == nil)
        #expect(manifest.policy.refusal(filters: [.where, .text], keys: ["kind"])?.contains("does not answer text filters") == true)
        #expect(manifest.policy.refusal(filters: [.where], keys: ["kind", "genre"])?.contains("filters on 'genre'") == true)
        // A world's own file overrides the keys it names and keeps the others.
        let own = try folder.write("mine.toml", "[policy]\naccept_keys = [\"kind\", \"genre\"]\n")
        let mine = try RequestPolicy.load(from: own, over: manifest.policy)
        #expect(mine == RequestPolicy(acceptedFilters: [.where, .time], acceptedKeys: ["kind", "genre"], minimumRecords: 5))
        #expect(RequestPolicy().refusal(filters: Set(RequestPolicy.Filter.allCases), keys: ["any"]) == nil)
        for (bad, phrase) in [
            ("accept_keys = [\"kind\"]\n", "'policy'"), ("[policy]\nmin_records = \"x\"\n", "'policy.min_records'"),
            ("[policy]\n[other]\n", "'other'"),
        ] {
            #expect {
                try RequestPolicy.load(from: try folder.write("bad.toml", bad), over: manifest.policy)
            } throws: { "\($0)".contains("bad.toml") && "\($0)".contains(phrase) }
        }
        // The manifest with a policy writes back to the same policy.
        let again = try FederationManifest.parse(manifest.tomlText(anchorsPath: "anchors.csv", encoderPath: nil), url: manifest.url)
        #expect(again.policy == manifest.policy)
    }

    @Test("every malformed field is named with what was expected", arguments: malformed)
    func malformedField(original: String, replacement: String, field: String, expected: String) throws {
        let folder = try TemporaryFolder()
        #expect(baseManifest.contains(original), "fixture: \(original)")
        let url = try writeBaseFederation(in: folder, manifest: baseManifest.replacingOccurrences(of: original, with: replacement))
        do {
            _ = try FederationManifest.load(from: url)
            Issue.record("no error for \(replacement)")
        } catch let error as ManifestError {
            #expect(error.description.contains("manifest.toml"), "\(error)")
            #expect(error.description.contains("'\(field)'"), "\(error)")
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test("the threshold rule: 2t > parties in both modes, each refusal saying why for its mode")
    func thresholdRule() throws {
        let folder = try TemporaryFolder()
        let four = baseManifest.replacingOccurrences(of: "parties = [1, 2, 3]\nthreshold = 2", with: "parties = [1, 2, 3, 4]\nthreshold = 3")
        #expect(try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: four)).threshold == 3)
        let paillier =
            baseManifest
            .replacingOccurrences(of: "parties = [1, 2, 3]\nthreshold = 2", with: "parties = [1, 2, 3, 4]\nthreshold = 2")
            .replacingOccurrences(of: "mode = \"secagg\"", with: "mode = \"paillier\"")
        #expect {
            try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: paillier))
        } throws: { error in
            "\(error)".contains("'federation.threshold'") && "\(error)".contains("opening a round twice for one charge")
                && "\(error)".contains("the smallest safe threshold is 3")
        }
        let safe = paillier.replacingOccurrences(of: "threshold = 2", with: "threshold = 3")
        #expect(try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: safe)).threshold == 3)
    }

    @Test("TOML syntax errors name the line")
    func syntax() throws {
        let folder = try TemporaryFolder()
        let url = try writeBaseFederation(in: folder, manifest: baseManifest + "\n[broken\n")
        #expect { try FederationManifest.load(from: url) } throws: { error in
            "\(error)".contains("manifest.toml") && "\(error)".contains("line")
        }
    }

    @Test(
        "bad anchors and encoder files are named with the line",
        arguments: [
            ("anchors.csv", "", "empty"),
            ("anchors.csv", "name\nup\n", "at least one embedding column"),
            ("anchors.csv", "name,e1,e2\nup,1\n", "line 2"),
            ("anchors.csv", "name,e1,e2\nup,1,x\n", "line 2, column 'e2'"),
            ("anchors.csv", "name,e1,e2\nup,1,nan\n", "not a finite number"),
            ("anchors.csv", "name,e1,e2\nup,1,0\nup,0,1\n", "appears twice"),
            ("anchors.csv", "name,e1,e2\n", "no anchors"),
            ("encoder.csv", "1,0\n0\n", "line 2"),
            ("encoder.csv", "1,0\n0,abc\n", "line 2, column 2"),
        ])
    func badModelFiles(file: String, contents: String, phrase: String) throws {
        let folder = try TemporaryFolder()
        let manifest = baseManifest.replacingOccurrences(of: "features = [\"f1\", \"f2\"]", with: "encoder = \"encoder.csv\"")
        let url = try writeBaseFederation(in: folder, manifest: manifest)
        try folder.write("encoder.csv", "1,0\n0,1\n")
        try folder.write(file, contents)
        #expect { try FederationManifest.load(from: url) } throws: { error in
            "\(error)".contains(file) && "\(error)".contains(phrase)
        }
    }

    @Test("a missing manifest or anchors file is an unreadable-file error")
    func missingFiles() throws {
        let folder = try TemporaryFolder()
        #expect(throws: ManifestError.self) { try FederationManifest.load(from: folder.url.appendingPathComponent("nope.toml")) }
        let url = try folder.write("manifest.toml", baseManifest)
        #expect { try FederationManifest.load(from: url) } throws: { "\($0)".contains("anchors.csv") }
    }
}
