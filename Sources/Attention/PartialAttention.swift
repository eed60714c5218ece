import Arithmetic
import Foundation

/// A world's local attention as exact sums, bound to its manifest: what `fedshare attention
/// --partial-out` and the Spark job (Integrations/spark) write, what `--merge` adds up and what
/// `fedshare party --precomputed` takes part with (Papers/attention.md, "Partial results").
///
/// The file is one JSON object:
///
/// ```json
/// {"format":"fedshare-partial-attention","version":1,"manifestHash":"<SHA-256 hex>",
///  "groups":[…],"anchors":[…],"scaleBits":52,"sums":["<decimal Int128>",…],"counts":[…],
///  "records":N,"users":U|null,"maxRecordsPerUser":k|null,"boundApplied":"none|fedshare|job",
///  "recordsDroppedByBound":n}
/// ```
///
/// `sums` is G × M row-major in units of 2^-52; `records` = Σ counts. `users` is the number of
/// distinct users whose records are in the sums, or null when unknown: distinct users do not
/// add up across files (one user may span two), so a merge records null unless told the count
/// (the Spark job counts them itself, `--users`).
public struct PartialAttention: Sendable, Equatable {
    public static let format = "fedshare-partial-attention"
    public static let version = 1

    /// Who applied the manifest's `max_records_per_user`.
    public enum BoundApplication: String, Sendable, Equatable {
        /// The manifest sets no bound.
        case none
        /// `fedshare attention` on a file: a uniformly random subset of each user's records
        /// (two passes over the file).
        case fedshare
        /// The records' producer (the Spark job, across the whole dataset) before they reached
        /// fedshare, which kept at most k per user of what it read as a safety net.
        case job
    }

    /// `Base16.encode(manifest.digest)`: the SHA-256 the federation binds its rounds to.
    public var manifestHash: String
    /// The exact sums, counts and labels.
    public var sums: AttentionSums
    public var users: Int?
    public var maxRecordsPerUser: Int?
    public var boundApplied: BoundApplication
    /// Records the bound left out where this file was made (the job's safety net: 0).
    public var recordsDroppedByBound: Int

    /// Records in the sums.
    public var records: Int { sums.counts.reduce(0, +) }

    public init(
        manifestHash: String, sums: AttentionSums, users: Int?, maxRecordsPerUser: Int?,
        boundApplied: BoundApplication, recordsDroppedByBound: Int = 0
    ) {
        self.manifestHash = manifestHash
        self.sums = sums
        self.users = users
        self.maxRecordsPerUser = maxRecordsPerUser
        self.boundApplied = boundApplied
        self.recordsDroppedByBound = recordsDroppedByBound
    }

    /// The partial result of `sums`, computed under the manifest whose SHA-256 is `manifestHash`
    /// (with `settings` its attention settings) from records whose bound was applied by
    /// `boundApplied` (ignored when the settings set no bound).
    public init(manifestHash: String, settings: AttentionSettings, sums: AttentionSums, boundApplied: BoundApplication) {
        let bound = settings.recordsPerUserBound
        self.init(
            manifestHash: manifestHash, sums: sums, users: sums.report.users, maxRecordsPerUser: bound,
            boundApplied: bound == nil ? .none : boundApplied, recordsDroppedByBound: sums.report.recordsDroppedByUserBound)
    }

    // MARK: The file

    /// The file's bytes: one line of JSON, keys in the documented order.
    public func encoded() -> Data {
        func strings(_ values: [String]) -> String {
            String(decoding: (try? JSONEncoder().encode(values)) ?? Data("[]".utf8), as: UTF8.self)
        }
        func optional(_ value: Int?) -> String { value.map(String.init) ?? "null" }
        var text = "{\"format\":\"\(Self.format)\",\"version\":\(Self.version),\"manifestHash\":\"\(manifestHash)\""
        text += ",\"groups\":\(strings(sums.groups)),\"anchors\":\(strings(sums.anchors)),\"scaleBits\":\(AttentionSums.scaleBits)"
        text += ",\"sums\":[" + sums.sums.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        text += ",\"counts\":[" + sums.counts.map(String.init).joined(separator: ",") + "]"
        text += ",\"records\":\(records),\"users\":\(optional(users)),\"maxRecordsPerUser\":\(optional(maxRecordsPerUser))"
        text += ",\"boundApplied\":\"\(boundApplied.rawValue)\",\"recordsDroppedByBound\":\(recordsDroppedByBound)}\n"
        return Data(text.utf8)
    }

    /// Reads a partial result file's bytes.
    /// - Parameter file: the name used in errors.
    /// - Throws: `AttentionError.partialResult` naming the first wrong field and what was expected.
    public static func decode(_ data: Data, file: String) throws -> PartialAttention {
        func fail(_ field: String, _ problem: String) -> AttentionError { .partialResult(file: file, field: field, problem: problem) }
        let fields: FileFields
        do { fields = try JSONDecoder().decode(FileFields.self, from: data) } catch let unknown as FileFields.UnknownField {
            throw fail(unknown.name, "unknown field")
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw fail(context.codingPath.first?.stringValue ?? "?", "expected \(FileFields.describe(type))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw fail(context.codingPath[0].stringValue, "expected a value of the documented type")
        } catch {
            throw AttentionError.malformedFile(file: file, problem: "not a JSON object (expected a \(format) file)")
        }
        func required<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw fail(field, "missing") }
            return value
        }
        func integer(_ value: Double?, _ field: String) throws -> Int? {
            guard let value else { return nil }
            guard let int = Int(exactly: value), int >= 0 else { throw fail(field, "expected a non-negative integer, found \(value)") }
            return int
        }
        guard try required(fields.format, "format") == format else { throw fail("format", "expected \"\(format)\"") }
        guard try required(integer(fields.version, "version"), "version") == version else {
            throw fail("version", "expected \(version) (this fedshare reads version \(version))")
        }
        let hash = try required(fields.manifestHash, "manifestHash")
        guard hash.count == 64, Base16.decode(hash) != nil else {
            throw fail("manifestHash", "expected the manifest's SHA-256 as 64 hexadecimal digits")
        }
        let groups = try required(fields.groups, "groups")
        let anchors = try required(fields.anchors, "anchors")
        guard !groups.isEmpty else { throw fail("groups", "expected at least one group label") }
        guard !anchors.isEmpty else { throw fail("anchors", "expected at least one anchor name") }
        guard try required(integer(fields.scaleBits, "scaleBits"), "scaleBits") == AttentionSums.scaleBits else {
            throw fail("scaleBits", "expected \(AttentionSums.scaleBits)")
        }
        let counts = try required(fields.counts, "counts").map { try required(integer($0, "counts"), "counts") }
        guard counts.count == groups.count, counts.allSatisfy({ $0 <= 1 << 40 }) else {
            throw fail("counts", "expected \(groups.count) integers from 0 to 2^40 (one per group), found \(counts.count) values")
        }
        let sumTexts = try required(fields.sums, "sums")
        guard sumTexts.count == groups.count * anchors.count else {
            throw fail(
                "sums",
                "expected \(groups.count * anchors.count) decimal integers as strings (G × M = \(groups.count) × \(anchors.count)), found \(sumTexts.count)")
        }
        var sums: [Int128] = []
        sums.reserveCapacity(sumTexts.count)
        for (index, text) in sumTexts.enumerated() {
            // A cell adds at most 2^52 per record of its group.
            let group = index / anchors.count
            guard let sum = Int128(text), sum >= 0, sum <= Int128(counts[group]) << AttentionSums.scaleBits else {
                throw fail("sums", "entry \(index + 1) ('\(text)'): expected a decimal integer from 0 to counts[\(group)] × 2^52")
            }
            sums.append(sum)
        }
        let records = counts.reduce(0, +)
        guard try required(integer(fields.records, "records"), "records") == records else {
            throw fail("records", "expected the sum of counts (\(records))")
        }
        let users = try integer(fields.users, "users")
        let bound = try integer(fields.maxRecordsPerUser, "maxRecordsPerUser")
        if let bound, bound < 1 { throw fail("maxRecordsPerUser", "expected a positive integer or null") }
        guard let boundApplied = BoundApplication(rawValue: try required(fields.boundApplied, "boundApplied")) else {
            throw fail("boundApplied", "expected \"none\", \"fedshare\" or \"job\"")
        }
        guard (boundApplied == .none) == (bound == nil) else {
            throw fail("boundApplied", "expected \"none\" exactly when maxRecordsPerUser is null")
        }
        let dropped = try integer(fields.recordsDroppedByBound, "recordsDroppedByBound") ?? 0
        return PartialAttention(
            manifestHash: hash.lowercased(), sums: AttentionSums(groups: groups, anchors: anchors, sums: sums, counts: counts),
            users: users, maxRecordsPerUser: bound, boundApplied: boundApplied,
            recordsDroppedByBound: dropped)
    }

    /// Reads a partial result file.
    public static func read(from url: URL) throws -> PartialAttention {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AttentionError.unreadable(file: url.path, reason: "no such file or not readable")
        }
        return try decode(data, file: url.lastPathComponent)
    }

    // MARK: Checks

    /// Refuses a partial result not made under the manifest named `manifestName` whose SHA-256
    /// is `manifestHash`: its hash, groups, anchors and bound.
    /// - Parameter file: the name used in the error.
    public func check(
        manifestHash expectedHash: String, manifestName name: String, settings: AttentionSettings,
        model: AttentionModel, file: String
    ) throws {
        try expect(file, "manifestHash", manifestHash, expectedHash, "(the SHA-256 of \(name))")
        try expect(file, "groups", sums.groups, model.groups, "(\(name)'s groups)")
        try expect(file, "anchors", sums.anchors, model.anchorNames, "(\(name)'s anchors)")
        try expect(file, "maxRecordsPerUser", maxRecordsPerUser, settings.recordsPerUserBound, "(\(name)'s max_records_per_user)")
    }

    /// Adds partial results of the same manifest exactly (a Spark job's partitions).
    /// - Parameters:
    ///   - parts: the files' names (for errors) and contents; at least one.
    ///   - users: the distinct users of all parts, when the caller counted them; else null.
    /// - Throws: `AttentionError.partialResult` naming the first part whose manifest hash,
    ///   groups, anchors or bound differs from the first part's.
    public static func merge(_ parts: [(file: String, partial: PartialAttention)], users: Int?) throws -> PartialAttention {
        guard var merged = parts.first?.partial, let first = parts.first?.file else {
            throw AttentionError.shapeMismatch("nothing to merge: give at least one partial result file")
        }
        for (file, part) in parts.dropFirst() {
            let reference = "(as in \(first))"
            try expect(file, "manifestHash", part.manifestHash, merged.manifestHash, reference)
            try expect(file, "groups", part.sums.groups, merged.sums.groups, reference)
            try expect(file, "anchors", part.sums.anchors, merged.sums.anchors, reference)
            try expect(file, "maxRecordsPerUser", part.maxRecordsPerUser, merged.maxRecordsPerUser, reference)
            try expect(file, "boundApplied", part.boundApplied.rawValue, merged.boundApplied.rawValue, reference)
            merged.sums.add(part.sums)
            merged.recordsDroppedByBound += part.recordsDroppedByBound
        }
        merged.users = users
        return merged
    }
}

/// The file's fields as JSON gives them; unknown keys are refused (a misspelt field must not be
/// silently ignored), `users` and `maxRecordsPerUser` may be null. Integers are read as numbers
/// and checked by `PartialAttention.decode`, which can then name the field of a 1.5 (JSONDecoder
/// reports a fraction for an Int as invalid JSON, with no field).
private struct FileFields: Decodable {
    var format: String?
    var version: Double?
    var manifestHash: String?
    var groups: [String]?
    var anchors: [String]?
    var scaleBits: Double?
    var sums: [String]?
    var counts: [Double]?
    var records: Double?
    var users: Double?
    var maxRecordsPerUser: Double?
    var boundApplied: String?
    var recordsDroppedByBound: Double?

    private enum Keys: String, CodingKey, CaseIterable {
        case format, version, manifestHash, groups, anchors, scaleBits, sums, counts, records, users, maxRecordsPerUser,
            boundApplied, recordsDroppedByBound
    }

    struct UnknownField: Error { let name: String }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.map(\.stringValue).sorted().first(where: { Keys(rawValue: $0) == nil }) {
            throw UnknownField(name: unknown)
        }
        let c = try decoder.container(keyedBy: Keys.self)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        version = try c.decodeIfPresent(Double.self, forKey: .version)
        manifestHash = try c.decodeIfPresent(String.self, forKey: .manifestHash)
        groups = try c.decodeIfPresent([String].self, forKey: .groups)
        anchors = try c.decodeIfPresent([String].self, forKey: .anchors)
        scaleBits = try c.decodeIfPresent(Double.self, forKey: .scaleBits)
        sums = try c.decodeIfPresent([String].self, forKey: .sums)
        counts = try c.decodeIfPresent([Double].self, forKey: .counts)
        records = try c.decodeIfPresent(Double.self, forKey: .records)
        users = try c.decodeIfPresent(Double.self, forKey: .users)
        maxRecordsPerUser = try c.decodeIfPresent(Double.self, forKey: .maxRecordsPerUser)
        boundApplied = try c.decodeIfPresent(String.self, forKey: .boundApplied)
        recordsDroppedByBound = try c.decodeIfPresent(Double.self, forKey: .recordsDroppedByBound)
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Double.Type: return "an integer"
        case is [String].Type: return "an array of strings"
        case is [Double].Type: return "an array of integers"
        default: return "a value of the documented type"
        }
    }
}

/// Throws `partialResult` when `found` is not `expected`.
private func expect<T: Equatable>(_ file: String, _ field: String, _ found: T, _ expected: T, _ note: String) throws {
    guard found != expected else { return }
    func show(_ value: T) -> String {
        switch value {
        case let list as [String]:
            return "[" + list.prefix(6).map { "\"\($0)\"" }.joined(separator: ", ") + (list.count > 6 ? ", … (\(list.count))" : "") + "]"
        case let optional as Int?:
            return optional.map(String.init) ?? "null"
        default:
            return "\(value)"
        }
    }
    throw AttentionError.partialResult(file: file, field: field, problem: "expected \(show(expected)) \(note), found \(show(found))")
}
