import Attention
import Foundation
import Primitives
import TOMLKit

/// A federation manifest: the public agreement every party and the aggregator load before a
/// round (Papers/design.md §1–2). It is a TOML file; paths inside it are relative to its own folder.
///
/// ```toml
/// [federation]
/// name = "three-worlds"               # letters, digits, '.', '_' or '-'
/// parties = [1, 2, 3]                 # distinct positive party ids (at least two)
/// threshold = 2                       # parties needed to decrypt/unmask: 2t > parties, so that
///                                     # a deviating aggregator cannot open a round twice or
///                                     # unmask one party (Papers/threat-model.md §4)
/// aggregator = "127.0.0.1:7443"       # host:port ([v6-address]:port for IPv6)
///
/// [attention]
/// anchors = "anchors.csv"             # CSV: header `name,<h labels>`, then one anchor per row
/// encoder = "encoder.csv"             # optional: d × h numbers (CSV without header, or .npy);
///                                     # absent = identity (then d = h)
/// scale = 0.5                         # optional, default 1/√h; positive
/// bias = 0.0                          # optional: one number for every anchor, or M numbers
/// groups = ["east", "north", "west"]  # ordered group labels: the rows of the result
/// features = ["f1", "f2", "f3", "f4"] # optional: d feature columns in encoder order; absent =
///                                     # every column but the group, user and ignored ones
/// group_column = "group"              # optional, default "group"
/// user_column = "user"                # optional
/// item_column = "venue"               # optional: the catalog entry id each record is about;
///                                     # requests' catalog filters select records by it
/// max_records_per_user = 5            # optional (needs user_column): records counted per user
/// ignore_columns = ["record_id"]      # optional: columns to leave out when features is absent
///
/// [privacy]
/// mechanism = "gaussian"              # "gaussian" or "laplace"
/// epsilon = 1.0                       # ε per release, > 0
/// delta = 1e-6                        # δ per release: 0 < δ < 1 for gaussian, 0/absent for laplace
/// unit = "record"                     # "record" or "user" (user needs max_records_per_user)
/// epsilon_budget = 10.0               # the cap on total ε, ≥ epsilon
/// delta_budget = 1e-5                 # the cap on total δ, ≥ delta (gaussian only)
///
/// [crypto]
/// mode = "paillier"                   # "paillier" or "secagg"
/// key_bits = 3072                     # Paillier modulus bits: 2048, 3072 (default) or 4096
/// fractional_bits = 32                # optional override, 8…52: fixed-point fractional bits;
///                                     # absent = chosen from the noise and value range (RoundPlan)
/// max_records = 1000000               # optional: the most records one party contributes (after
///                                     # the per-user bound), 1…2^40, default 2^24: bounds every
///                                     # value, so it sizes the Paillier slots
///
/// [catalog]                           # optional: which catalog entries a party publishes to the
/// where = ["kind=venue"]              # federation directory, with the filters of a query
/// text = "concert"                    # (`fedshare catalog query`): where, text, from, to,
/// from = "2026-12-01T00:00:00Z"       # near + radius, within; absent = every entry
///
/// [analysts]                          # optional: people who may request rounds (issue 14)
/// names = ["alice", "bob"]            # each gets an analyst-NAME/ kit from provision: 1 to 32
///                                     # of a-z, 0-9, '_', '-', starting with a letter or digit
/// epsilon_cap = 2.0                   # optional: each analyst's cap on total ε in the
///                                     # federation ledger, 0 < epsilon_cap ≤ epsilon_budget
/// delta_cap = 1e-5                    # optional (gaussian; needs epsilon_cap): each analyst's
///                                     # cap on total δ, 0 < delta_cap ≤ delta_budget; default
///                                     # delta_budget
///
/// [policy]                            # optional: which analysts' requests a world answers
/// accept_filters = ["where", "time"]  # (RequestPolicy; a world may override it with its own
/// accept_keys = ["kind"]              # file, `fedshare party --policy FILE`)
/// min_records = 20
/// ```
///
/// Unknown tables and keys are errors (a misspelt key must not silently fall back to a
/// default).
public struct FederationManifest: Sendable, Equatable {
    /// Where the manifest was read from.
    public var url: URL
    /// SHA-256 of the manifest file's bytes (parties compare it when a round opens).
    public var digest: [UInt8]

    public var name: String
    public var parties: [Int]
    public var threshold: Int
    /// "host:port".
    public var aggregator: String
    public var attention: AttentionSettings
    public var privacy: PrivacySettings
    public var crypto: CryptoSettings
    /// The model the attention settings describe, with the anchors (and encoder) loaded.
    public var model: AttentionModel
    /// The `[catalog]` table: the entries each party publishes (nil: all of them).
    public var catalog: CatalogSelection? = nil
    /// The `[analysts]` table: who may request rounds, and each one's cap (no names when absent).
    public var analysts: AnalystsSection = AnalystsSection()

    /// The `[analysts]` table: the analysts provisioning issues certificates for and, when
    /// `epsilon_cap` is given, the budget each of them may spend at most in the federation
    /// ledger (on top of, never instead of, the federation's own `[privacy]` budget).
    public struct AnalystsSection: Sendable, Equatable {
        /// Valid analyst names (``problem(withName:)``), distinct, in the manifest's order;
        /// empty when the table is absent.
        public var names: [String]
        /// Each analyst's cap; nil: analysts are only bounded by the federation's budget.
        public var cap: AnalystCap?

        public init(names: [String] = [], cap: AnalystCap? = nil) {
            self.names = names
            self.cap = cap
        }

        /// The most characters an analyst name has.
        public static let maximumNameLength = 32

        /// What is wrong with `name` as an analyst name (nil: nothing). An analyst name is 1 to
        /// 32 characters of `a-z`, `0-9`, `_` and `-`, starting with a letter or a digit: it
        /// becomes a folder name (`analyst-NAME`), a certificate's common name and a URI.
        /// Everyone who reads one (the manifest, a certificate, a kit, the CLI) checks it here.
        public static func problem(withName name: String) -> String? {
            let bytes = Array(name.utf8)
            func isLetterOrDigit(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
            let valid =
                !bytes.isEmpty && bytes.count <= maximumNameLength && isLetterOrDigit(bytes[0])
                && bytes.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
            if valid { return nil }
            return "expected an analyst name of 1 to \(maximumNameLength) characters a-z, 0-9, '_' or '-', starting with a letter or digit, found \"\(name)\""
        }
    }

    /// An analyst's cap on total (ε, δ) in the federation ledger.
    public struct AnalystCap: Sendable, Equatable {
        public var epsilon: Double
        public var delta: Double

        public init(epsilon: Double, delta: Double) {
            self.epsilon = epsilon
            self.delta = delta
        }
    }

    /// The `[policy]` table: the requests every world answers unless its own policy file says
    /// otherwise (absent: every request).
    public var policy = RequestPolicy()

    /// The `[catalog]` table as written: query filters, checked for their TOML types here and
    /// parsed into a query by the federation (the Catalog module knows their syntax).
    public struct CatalogSelection: Sendable, Equatable {
        public var conditions: [String] = []
        public var text: String?
        public var from: String?
        public var to: String?
        public var near: String?
        public var radius: Double?
        public var within: String?
    }

    public enum Mechanism: String, Sendable, Equatable, Codable { case gaussian, laplace }
    public enum PrivacyUnit: String, Sendable, Equatable, Codable { case record, user }

    /// The `[privacy]` table.
    public struct PrivacySettings: Sendable, Equatable {
        public var mechanism: Mechanism
        public var epsilon: Double
        public var delta: Double
        public var unit: PrivacyUnit
        public var epsilonBudget: Double
        public var deltaBudget: Double
    }

    public enum CryptoMode: String, Sendable, Equatable, Codable { case paillier, secagg }

    /// The `[crypto]` table.
    public struct CryptoSettings: Sendable, Equatable {
        public var mode: CryptoMode
        public var keyBits: Int
        /// `fractional_bits` when given: an explicit override of the grid. `nil`: the round plan
        /// chooses the grid from the noise scale and the value range (deterministically, so
        /// every party derives the same one).
        public var fractionalBits: Int?
        /// `max_records`: the most records one party contributes, which bounds every value it
        /// encodes (an attention cell or a count is at most its record count).
        public var maxRecords: Int = CryptoSettings.defaultMaxRecords

        /// 2^24 records per party.
        public static let defaultMaxRecords = 1 << 24

        public init(mode: CryptoMode, keyBits: Int, fractionalBits: Int? = nil, maxRecords: Int = CryptoSettings.defaultMaxRecords) {
            self.mode = mode
            self.keyBits = keyBits
            self.fractionalBits = fractionalBits
            self.maxRecords = maxRecords
        }
    }

    /// How many records one privacy unit can contribute: 1 per record, or
    /// `max_records_per_user` per user. Each record adds a probability vector (L1 norm 1) to A,
    /// so this is the L1 sensitivity of A (and an upper bound on its L2 sensitivity) under
    /// add/remove-one-unit neighbours.
    public var recordsPerPrivacyUnit: Int {
        privacy.unit == .user ? (attention.maxRecordsPerUser ?? 1) : 1
    }

    /// The first table header (`[` or `[[` at the start of a line) not followed by a key, as
    /// (line, column). toml++ (inside TOMLKit) asserts on these in debug builds and aborts the
    /// process instead of reporting a syntax error (found by fuzzing: `[,federation]`, `[ # …`), so they
    /// are refused before TOMLKit sees them. Manifests have no multi-line strings, so every line
    /// starting with `[` is a header or an array continuation (which starts with a value).
    static func malformedTableHeader(in text: String) -> (line: Int, column: Int)? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let bytes = Array(line.utf8)
            var i = 0
            while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 { i += 1 }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else { continue }
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "[") { i += 1 }
            while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 { i += 1 }
            guard i < bytes.count else { continue }
            let c = bytes[i]
            let startsKeyOrValue =
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
                || c == UInt8(ascii: "]") || c == UInt8(ascii: "[") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "{") || c == 13
            if !startsKeyOrValue { return (index + 1, i + 1) }
        }
        return nil
    }

    /// Reads, validates and loads a manifest (and its anchors and encoder files).
    /// - Throws: ``ManifestError`` naming the field and what was expected, or errors
    ///   naming the anchors/encoder file and line.
    public static func load(from url: URL) throws -> FederationManifest {
        let file = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ManifestError.unreadable(file: url.path, reason: (error as NSError).localizedFailureReason ?? "no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ManifestError.malformedFile(file: file, problem: "not UTF-8 text")
        }
        return try parse(text, url: url, digest: SHA256.hash(Array(data)))
    }

    /// Parses manifest text; `url` locates the manifest (relative paths resolve from its folder).
    public static func parse(_ text: String, url: URL, digest: [UInt8]? = nil) throws -> FederationManifest {
        let file = url.lastPathComponent
        if let (line, column) = malformedTableHeader(in: text) {
            throw ManifestError.malformedFile(file: file, problem: "TOML syntax error at line \(line), column \(column): a table header must start with a key")
        }
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ManifestError.malformedFile(
                file: file, problem: "TOML syntax error at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        let folder = url.deletingLastPathComponent()
        var top = FieldReader(table: root, path: "", file: file)
        var federation = try top.table("federation")
        var attentionTable = try top.table("attention")
        var privacyTable = try top.table("privacy")
        var cryptoTable = try top.optionalTable("crypto")
        var catalogTable = try top.optionalTable("catalog")
        let analystsTable = try top.optionalTable("analysts")
        let policyTable = try top.optionalTable("policy")
        try top.rejectUnknown()

        // [federation]
        let name = try federation.string("name")
        guard !name.isEmpty, name.count <= 128,
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) })
        else {
            throw federation.fail("name", "expected 1 to 128 letters, digits, '.', '_' or '-', found \"\(name)\"")
        }
        let parties = try federation.intArray("parties")
        guard parties.count >= 2 else { throw federation.fail("parties", "expected at least two party ids, found \(parties.count)") }
        guard parties.allSatisfy({ $0 >= 1 }) else { throw federation.fail("parties", "expected positive integer party ids, found \(parties)") }
        guard Set(parties).count == parties.count else { throw federation.fail("parties", "party ids must be distinct, found \(parties)") }
        let threshold = try federation.int("threshold")
        guard threshold >= 1, threshold <= parties.count else {
            throw federation.fail("threshold", "expected an integer from 1 to \(parties.count) (the number of parties), found \(threshold)")
        }
        let aggregator = try federation.string("aggregator")
        guard isHostPort(aggregator) else {
            throw federation.fail("aggregator", "expected host:port with a port from 1 to 65535, found \"\(aggregator)\"")
        }
        try federation.rejectUnknown()

        // [attention]
        let anchorsPath = try attentionTable.string("anchors")
        guard !anchorsPath.isEmpty else { throw attentionTable.fail("anchors", "expected a file path, found an empty string") }
        let anchorsURL = URL(fileURLWithPath: anchorsPath, relativeTo: folder).standardizedFileURL
        let encoderURL = try attentionTable.optionalString("encoder").map { path -> URL in
            guard !path.isEmpty else { throw attentionTable.fail("encoder", "expected a file path, found an empty string") }
            return URL(fileURLWithPath: path, relativeTo: folder).standardizedFileURL
        }
        let scale = try attentionTable.optionalNumber("scale")
        if let scale, !(scale.isFinite && scale > 0) {
            throw attentionTable.fail("scale", "expected a positive finite number, found \(scale)")
        }
        let biasValue = try attentionTable.optionalNumberOrNumbers("bias")
        let groups = try attentionTable.stringArray("groups")
        guard !groups.isEmpty else { throw attentionTable.fail("groups", "expected at least one group label") }
        if groups.contains(where: \.isEmpty) { throw attentionTable.fail("groups", "expected non-empty labels, found an empty one") }
        if let duplicate = firstDuplicate(groups) { throw attentionTable.fail("groups", "expected distinct labels, found \"\(duplicate)\" twice") }
        let groupColumn = try attentionTable.optionalString("group_column") ?? "group"
        guard !groupColumn.isEmpty else { throw attentionTable.fail("group_column", "expected a column name, found an empty string") }
        let userColumn = try attentionTable.optionalString("user_column")
        if let userColumn {
            guard !userColumn.isEmpty else { throw attentionTable.fail("user_column", "expected a column name, found an empty string") }
            guard userColumn != groupColumn else { throw attentionTable.fail("user_column", "must differ from group_column (\"\(groupColumn)\")") }
        }
        let itemColumn = try attentionTable.optionalString("item_column")
        if let itemColumn {
            guard !itemColumn.isEmpty else { throw attentionTable.fail("item_column", "expected a column name, found an empty string") }
            guard itemColumn != groupColumn, itemColumn != userColumn else {
                throw attentionTable.fail("item_column", "must differ from group_column and user_column")
            }
        }
        let maxRecords = try attentionTable.optionalInt("max_records_per_user")
        if let maxRecords {
            guard maxRecords >= 1 else { throw attentionTable.fail("max_records_per_user", "expected a positive integer, found \(maxRecords)") }
            guard userColumn != nil else { throw attentionTable.fail("max_records_per_user", "needs user_column (which column identifies users?)") }
        }
        let ignoreColumns = try attentionTable.optionalStringArray("ignore_columns") ?? []
        let features = try attentionTable.optionalStringArray("features")
        if let features {
            guard !features.isEmpty else { throw attentionTable.fail("features", "expected at least one column name (or leave it out for all columns)") }
            if let duplicate = firstDuplicate(features) {
                throw attentionTable.fail("features", "expected distinct column names, found \"\(duplicate)\" twice")
            }
            if features.contains(groupColumn) { throw attentionTable.fail("features", "must not include the group column \"\(groupColumn)\"") }
            if let userColumn, features.contains(userColumn) { throw attentionTable.fail("features", "must not include the user column \"\(userColumn)\"") }
            if let itemColumn, features.contains(itemColumn) { throw attentionTable.fail("features", "must not include the item column \"\(itemColumn)\"") }
            if features.contains(where: \.isEmpty) { throw attentionTable.fail("features", "expected non-empty column names") }
        }
        try attentionTable.rejectUnknown()

        // The model: anchors, encoder, scale, bias.
        let anchors = try AttentionModel.readAnchors(from: anchorsURL)
        let encoder = try encoderURL.map { try AttentionModel.readEncoder(from: $0, embeddingDimension: anchors.dimension) }
        let m = anchors.names.count
        var bias: [Double]?
        switch biasValue {
        case .none: bias = nil
        case .one(let value): bias = [Double](repeating: value, count: m)
        case .many(let values):
            guard values.count == m else {
                throw attentionTable.fail(
                    "bias", "expected one number or \(m) numbers (one per anchor in \(anchorsURL.lastPathComponent)), found \(values.count)")
            }
            bias = values
        }
        let model: AttentionModel
        do {
            model = try AttentionModel(
                anchorNames: anchors.names, anchors: anchors.values, embeddingDimension: anchors.dimension,
                encoder: encoder, scale: scale, bias: bias, groups: groups)
        } catch let error as AttentionError {
            throw ManifestError.field(file: file, field: "attention", problem: error.description)
        }
        if let features, features.count != model.featureDimension {
            throw attentionTable.fail(
                "features",
                "expected \(model.featureDimension) column names (d, from \(encoderURL == nil ? "the anchors' dimension h" : "the encoder's rows")), found \(features.count)"
            )
        }

        // [privacy]
        let mechanismText = try privacyTable.string("mechanism")
        guard let mechanism = Mechanism(rawValue: mechanismText) else {
            throw privacyTable.fail("mechanism", "expected \"gaussian\" or \"laplace\", found \"\(mechanismText)\"")
        }
        let epsilon = try privacyTable.number("epsilon")
        guard epsilon.isFinite, epsilon > 0 else { throw privacyTable.fail("epsilon", "expected a positive finite number, found \(epsilon)") }
        let delta: Double
        switch mechanism {
        case .gaussian:
            delta = try privacyTable.number("delta")
            guard delta > 0, delta < 1 else {
                throw privacyTable.fail("delta", "expected a number with 0 < delta < 1 for the gaussian mechanism, found \(delta)")
            }
        case .laplace:
            delta = try privacyTable.optionalNumber("delta") ?? 0
            guard delta == 0 else { throw privacyTable.fail("delta", "expected 0 (or no delta) for the laplace mechanism, found \(delta)") }
        }
        let unitText = try privacyTable.optionalString("unit") ?? "record"
        guard let unit = PrivacyUnit(rawValue: unitText) else {
            throw privacyTable.fail("unit", "expected \"record\" or \"user\", found \"\(unitText)\"")
        }
        if unit == .user && (userColumn == nil || maxRecords == nil) {
            throw privacyTable.fail("unit", "\"user\" needs attention.user_column and attention.max_records_per_user")
        }
        let epsilonBudget = try privacyTable.number("epsilon_budget")
        guard epsilonBudget.isFinite, epsilonBudget >= epsilon else {
            throw privacyTable.fail("epsilon_budget", "expected a finite number ≥ epsilon (\(epsilon)), found \(epsilonBudget)")
        }
        let deltaBudget: Double
        if mechanism == .gaussian {
            deltaBudget = try privacyTable.number("delta_budget")
            guard deltaBudget >= delta, deltaBudget < 1 else {
                throw privacyTable.fail("delta_budget", "expected a number with delta (\(delta)) ≤ delta_budget < 1, found \(deltaBudget)")
            }
        } else {
            deltaBudget = try privacyTable.optionalNumber("delta_budget") ?? 0
            guard deltaBudget >= 0, deltaBudget < 1 else {
                throw privacyTable.fail("delta_budget", "expected a number with 0 ≤ delta_budget < 1, found \(deltaBudget)")
            }
        }
        try privacyTable.rejectUnknown()

        // [crypto]
        var crypto = CryptoSettings(mode: .paillier, keyBits: 3072)
        if var table = cryptoTable {
            if let modeText = try table.optionalString("mode") {
                guard let mode = CryptoMode(rawValue: modeText) else {
                    throw table.fail("mode", "expected \"paillier\" or \"secagg\", found \"\(modeText)\"")
                }
                crypto.mode = mode
            }
            if let bits = try table.optionalInt("key_bits") {
                guard [2048, 3072, 4096].contains(bits) else { throw table.fail("key_bits", "expected 2048, 3072 or 4096, found \(bits)") }
                crypto.keyBits = bits
            }
            if let bits = try table.optionalInt("fractional_bits") {
                guard (8...52).contains(bits) else { throw table.fail("fractional_bits", "expected an integer from 8 to 52, found \(bits)") }
                crypto.fractionalBits = bits
            }
            if let records = try table.optionalInt("max_records") {
                guard (1...(1 << 40)).contains(records) else { throw table.fail("max_records", "expected an integer from 1 to 2^40, found \(records)") }
                crypto.maxRecords = records
            }
            try table.rejectUnknown()
            cryptoTable = table
        }
        // With 2t ≤ n a deviating aggregator can split the parties into two groups of t:
        // secure aggregation reveals, per party, one kind of share to each survivor, so two
        // groups told different dead lists give it both kinds; in Paillier mode two groups that
        // each decrypt once open two sums in one round, with one charge.
        if 2 * threshold <= parties.count {
            let why =
                crypto.mode == .secagg
                ? "an aggregator that equivocates on the dead list could unmask one party's input"
                : "an aggregator could have two groups of threshold parties each decrypt a different sum, opening a round twice for one charge"
            throw federation.fail(
                "threshold",
                "\(threshold) is unsafe with mode = \"\(crypto.mode.rawValue)\" and \(parties.count) parties: with 2 × threshold ≤ parties \(why); the smallest safe threshold is \(parties.count / 2 + 1)"
            )
        }

        // [catalog]
        var catalog: CatalogSelection?
        if var table = catalogTable {
            var selection = CatalogSelection()
            selection.conditions = try table.optionalStringArray("where") ?? []
            selection.text = try table.optionalString("text")
            selection.from = try table.optionalString("from")
            selection.to = try table.optionalString("to")
            selection.near = try table.optionalString("near")
            selection.radius = try table.optionalNumber("radius")
            selection.within = try table.optionalString("within")
            if (selection.near == nil) != (selection.radius == nil) { throw table.fail("near", "near and radius go together") }
            try table.rejectUnknown()
            catalogTable = table
            catalog = selection
        }
        let policy = try policyTable.map { table in
            var table = table
            return try RequestPolicy.read(&table)
        }

        // [analysts]
        let privacy = PrivacySettings(
            mechanism: mechanism, epsilon: epsilon, delta: delta, unit: unit,
            epsilonBudget: epsilonBudget, deltaBudget: deltaBudget)
        let analysts = try analystsTable.map { try parseAnalysts($0, privacy: privacy) } ?? AnalystsSection()

        return FederationManifest(
            url: url, digest: digest ?? SHA256.hash(Array(text.utf8)),
            name: name, parties: parties, threshold: threshold, aggregator: aggregator,
            attention: AttentionSettings(
                anchorsURL: anchorsURL, encoderURL: encoderURL, scale: scale, groups: groups,
                features: features, groupColumn: groupColumn, userColumn: userColumn, itemColumn: itemColumn,
                maxRecordsPerUser: maxRecords, ignoreColumns: ignoreColumns),
            privacy: privacy, crypto: crypto, model: model, catalog: catalog, analysts: analysts,
            policy: policy ?? RequestPolicy())
    }

    /// The `[analysts]` table, checked against the federation's own budget.
    private static func parseAnalysts(_ reader: FieldReader, privacy: PrivacySettings) throws -> AnalystsSection {
        var table = reader
        let names = try table.stringArray("names")
        guard !names.isEmpty else { throw table.fail("names", "expected at least one analyst name (or leave out [analysts])") }
        for name in names {
            if let problem = AnalystsSection.problem(withName: name) { throw table.fail("names", problem) }
        }
        if let duplicate = firstDuplicate(names) { throw table.fail("names", "expected distinct analyst names, found \"\(duplicate)\" twice") }
        let epsilonCap = try table.optionalNumber("epsilon_cap")
        let deltaCap = try table.optionalNumber("delta_cap")
        try table.rejectUnknown()
        guard let epsilonCap else {
            if deltaCap != nil { throw table.fail("delta_cap", "needs epsilon_cap (an analyst's cap has both)") }
            return AnalystsSection(names: names)
        }
        guard epsilonCap.isFinite, epsilonCap > 0, epsilonCap <= privacy.epsilonBudget else {
            throw table.fail(
                "epsilon_cap", "expected a number with 0 < epsilon_cap ≤ privacy.epsilon_budget (\(privacy.epsilonBudget)), found \(epsilonCap)")
        }
        let delta: Double
        switch privacy.mechanism {
        case .gaussian:
            delta = deltaCap ?? privacy.deltaBudget
            guard delta > 0, delta <= privacy.deltaBudget else {
                throw table.fail("delta_cap", "expected a number with 0 < delta_cap ≤ privacy.delta_budget (\(privacy.deltaBudget)), found \(delta)")
            }
        case .laplace:
            delta = deltaCap ?? 0
            guard delta == 0 else { throw table.fail("delta_cap", "expected 0 (or no delta_cap) for the laplace mechanism, found \(delta)") }
        }
        return AnalystsSection(names: names, cap: AnalystCap(epsilon: epsilonCap, delta: delta))
    }
}

private func isHostPort(_ text: String) -> Bool {
    guard let colon = text.lastIndex(of: ":") else { return false }
    let host = text[..<colon]
    guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty else { return false }
    if host.hasPrefix("[") { return host.hasSuffix("]") && host.count > 2 }
    return !host.contains(":") && !host.contains(where: \.isWhitespace)
}

/// The first name that appears twice in `names`.
private func firstDuplicate(_ names: [String]) -> String? {
    var seen = Set<String>()
    for name in names where !seen.insert(name).inserted { return name }
    return nil
}
