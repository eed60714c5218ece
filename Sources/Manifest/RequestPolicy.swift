import Foundation
import TOMLKit

/// Which analysts' requests a world answers: the manifest's `[policy]` table (the federation's
/// default), which a world may override with a policy file it keeps to itself
/// (`fedshare party --policy FILE`).
///
/// ```toml
/// [policy]
/// accept_filters = ["where", "time"]  # optional: the filter kinds answered (text, where, time,
///                                     # near, within); absent = every kind
/// accept_keys = ["kind", "genre"]     # optional: the --where keys answered; absent = every key
/// min_records = 20                    # optional, default 0: fewer matching records → decline
/// ```
///
/// A declined request costs the world nothing: it reserves no budget and sends nothing of its data.
public struct RequestPolicy: Sendable, Equatable {
    /// A kind of catalog filter a request may carry.
    public enum Filter: String, Sendable, Equatable, CaseIterable {
        case text, `where`, time, near, within
    }

    /// `nil`: every kind.
    public var acceptedFilters: Set<Filter>?
    /// `nil`: every `--where` key.
    public var acceptedKeys: Set<String>?
    /// The fewest matching records with which the world takes part.
    public var minimumRecords: Int

    public init(acceptedFilters: Set<Filter>? = nil, acceptedKeys: Set<String>? = nil, minimumRecords: Int = 0) {
        self.acceptedFilters = acceptedFilters
        self.acceptedKeys = acceptedKeys
        self.minimumRecords = minimumRecords
    }

    /// Why a request with these filter kinds and `--where` keys is declined, or `nil`.
    public func refusal(filters: Set<Filter>, keys: [String]) -> String? {
        if let acceptedFilters {
            let refused = filters.subtracting(acceptedFilters).map(\.rawValue).sorted()
            if !refused.isEmpty {
                let accepted = acceptedFilters.map(\.rawValue).sorted()
                return
                    "its policy does not answer \(refused.joined(separator: ", ")) filters (it answers: \(accepted.isEmpty ? "none" : accepted.joined(separator: ", ")))"
            }
        }
        if let acceptedKeys, let key = keys.first(where: { !acceptedKeys.contains($0) }) {
            return "its policy does not answer filters on '\(key)' (it answers: \(acceptedKeys.sorted().joined(separator: ", ")))"
        }
        return nil
    }

    /// Reads the `[policy]` table, starting from `base` (keys absent keep its values).
    static func read(_ table: inout FieldReader, over base: RequestPolicy = RequestPolicy()) throws -> RequestPolicy {
        var policy = base
        if let names = try table.optionalStringArray("accept_filters") {
            var filters = Set<Filter>()
            for name in names {
                guard let filter = Filter(rawValue: name) else {
                    let known = Filter.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                    throw table.fail("accept_filters", "expected filter kinds among \(known), found \"\(name)\"")
                }
                filters.insert(filter)
            }
            policy.acceptedFilters = filters
        }
        if let keys = try table.optionalStringArray("accept_keys") {
            if keys.contains(where: \.isEmpty) { throw table.fail("accept_keys", "expected non-empty keys") }
            policy.acceptedKeys = Set(keys)
        }
        if let minimum = try table.optionalInt("min_records") {
            guard minimum >= 0 else { throw table.fail("min_records", "expected an integer ≥ 0, found \(minimum)") }
            policy.minimumRecords = minimum
        }
        try table.rejectUnknown()
        return policy
    }

    /// A world's own policy file: a `[policy]` table whose keys override `base` (the manifest's).
    /// - Throws: ``ManifestError`` naming the file and field.
    public static func load(from url: URL, over base: RequestPolicy) throws -> RequestPolicy {
        let file = url.lastPathComponent
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ManifestError.unreadable(file: url.path, reason: (error as NSError).localizedFailureReason ?? "no such file or not readable")
        }
        if let (line, column) = FederationManifest.malformedTableHeader(in: text) {
            throw ManifestError.malformedFile(file: file, problem: "TOML syntax error at line \(line), column \(column): a table header must start with a key")
        }
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ManifestError.malformedFile(
                file: file, problem: "TOML syntax error at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        var top = FieldReader(table: root, path: "", file: file)
        var table = try top.table("policy")
        try top.rejectUnknown()
        return try read(&table, over: base)
    }
}
