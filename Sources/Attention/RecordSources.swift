// Readers of party data: CSV/TSV with a header, JSON Lines, and NumPy .npy features with a
// side file of group (and user) labels. Each returns one record at a time into caller-owned
// memory, so the caller decides the chunk and memory stays bounded by it.

/// How the attention settings map data columns to features, group and user.
struct DataLayout {
    /// Feature column names in encoder order; `nil`: every column except group, user, ignored.
    var features: [String]?
    var featureDimension: Int
    var groupColumn: String
    var userColumn: String?
    /// The column naming the catalog item each record is about (never a feature).
    var itemColumn: String?
    /// The items whose records count; `nil`: every record.
    var scope: Set<String>?
    var ignoreColumns: [String]
    var groups: [String]

    init(settings: AttentionSettings, model: AttentionModel, scope: Set<String>? = nil) {
        features = settings.features
        featureDimension = model.featureDimension
        groupColumn = settings.groupColumn
        userColumn = settings.userColumn
        itemColumn = settings.itemColumn
        self.scope = scope
        ignoreColumns = settings.ignoreColumns
        groups = model.groups
    }

    /// The outcome of a good row about `item`: a record, or out of scope.
    func admit(_ item: String?, group: Int32) -> RowOutcome {
        guard let scope else { return .record(group: group) }
        guard let item, scope.contains(item) else { return .outOfScope }
        return .record(group: group)
    }

    /// The layout of a side file: labels only.
    var labelsOnly: DataLayout {
        var layout = self
        layout.features = []
        layout.featureDimension = 0
        return layout
    }

    func groupIndex() -> [String: Int32] {
        Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($1, Int32($0)) })
    }

    func unknownGroupProblem(_ label: String) -> String {
        let listed = groups.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
        return "unknown group '\(label)' (the manifest's groups: \(listed)\(groups.count > 8 ? ", …" : ""))"
    }

    /// Resolves the feature names against the available columns (header order).
    func resolveFeatures(available: [String], file: String) throws -> [String] {
        if let features {
            for name in features where !available.contains(name) {
                throw AttentionError.malformedFile(file: file, problem: "the feature column '\(name)' named in the manifest is missing")
            }
            return features
        }
        let excluded = Set([groupColumn] + [userColumn, itemColumn].compactMap { $0 } + ignoreColumns)
        let chosen = available.filter { !excluded.contains($0) }
        guard chosen.count == featureDimension else {
            throw AttentionError.shapeMismatch(
                "\(file): expected \(featureDimension) feature columns (every column but '\(groupColumn)'"
                    + "\(userColumn.map { ", '\($0)'" } ?? "")\(ignoreColumns.isEmpty ? "" : " and the ignored ones")), found \(chosen.count): \(chosen.joined(separator: ", "))"
            )
        }
        return chosen
    }
}

/// The outcome of reading one row.
enum RowOutcome {
    /// A good record of the given group.
    case record(group: Int32)
    /// A bad row: skipped or fatal, as the caller decides.
    case bad(AttentionError)
    /// A good row about an item outside the scope: not a record of this computation.
    case outOfScope
}

/// A source of records.
protocol RecordSource: AnyObject {
    /// Reads the next row, writing its d features to `features` and, when the layout has a user
    /// column, its user id to `user`; `nil` at the end of the data.
    func next(features: UnsafeMutablePointer<Double>, user: inout String) throws -> RowOutcome?
}

private enum ColumnRole {
    case ignored
    case feature(Int)
    case group
    case user
    case item
}

/// CSV or TSV (by extension) with a header row.
final class DelimitedRecordSource: RecordSource {
    private let reader: LineReader
    private let file: String
    private let separator: UInt8
    private let header: [String]
    private let roles: [ColumnRole]
    private let groupIndex: [String: Int32]
    private let layout: DataLayout

    init(path: String, displayName: String, layout: DataLayout) throws {
        reader = try LineReader(path: path, displayName: displayName)
        file = displayName
        separator = delimiter(forPath: path)
        self.layout = layout
        groupIndex = layout.groupIndex()
        var headerLine: UnsafeBufferPointer<UInt8>?
        while let line = try reader.nextLine() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
            headerLine = line
            break
        }
        guard let headerLine else { throw AttentionError.malformedFile(file: displayName, problem: "the file is empty (expected a header row)") }
        var ranges: [FieldRange] = []
        if let problem = splitFields(headerLine, delimiter: separator, into: &ranges) {
            throw AttentionError.badRecord(file: displayName, position: "line \(reader.lineNumber) (header)", problem: problem)
        }
        header = ranges.map { fieldText(headerLine, $0).trimmingCharacters() }
        if let duplicate = firstDuplicate(header) {
            throw AttentionError.malformedFile(file: displayName, problem: "the header names column '\(duplicate)' twice")
        }
        guard header.contains(layout.groupColumn) else {
            throw AttentionError.malformedFile(
                file: displayName, problem: "the header has no group column '\(layout.groupColumn)' (columns: \(header.joined(separator: ", ")))")
        }
        if let user = layout.userColumn, !header.contains(user) {
            throw AttentionError.malformedFile(
                file: displayName, problem: "the header has no user column '\(user)' (columns: \(header.joined(separator: ", ")))")
        }
        if let item = layout.itemColumn, !header.contains(item) {
            throw AttentionError.malformedFile(
                file: displayName, problem: "the header has no item column '\(item)' (columns: \(header.joined(separator: ", ")))")
        }
        let features = try layout.resolveFeatures(available: header, file: displayName)
        let featurePosition = Dictionary(uniqueKeysWithValues: features.enumerated().map { ($1, $0) })
        roles = header.map { name in
            if name == layout.groupColumn { return .group }
            if name == layout.userColumn { return .user }
            if name == layout.itemColumn { return .item }
            if let position = featurePosition[name] { return .feature(position) }
            return .ignored
        }
    }

    func next(features: UnsafeMutablePointer<Double>, user: inout String) throws -> RowOutcome? {
        var line: UnsafeBufferPointer<UInt8>
        repeat {
            guard let next = try reader.nextLine() else { return nil }
            line = next
        } while line.allSatisfy({ $0 == 32 })  // blank lines (a line of tabs is a TSV row)
        let lineNumber = reader.lineNumber
        // One pass over the line: find each field (RFC 4180 quoting) and use it at once. The
        // first problem in a field is kept, but a wrong column count takes precedence.
        let base = line.baseAddress!
        let n = line.count
        let columnCount = roles.count
        var i = 0
        var column = 0
        var group: Int32 = -1
        var item: String?
        var problem: RowOutcome?
        while true {
            var start = i
            var end: Int
            var escaped = false
            if i < n, base[i] == 34 {
                var j = i + 1
                while true {
                    guard j < n else { return .bad(.badRecord(file: file, position: "line \(lineNumber)", problem: "unterminated quoted field")) }
                    if base[j] == 34 {
                        if j + 1 < n, base[j + 1] == 34 {
                            escaped = true
                            j += 2
                            continue
                        }
                        break
                    }
                    j += 1
                }
                start = i + 1
                end = j
                i = j + 1
                if i < n, base[i] != separator {
                    return .bad(.badRecord(file: file, position: "line \(lineNumber)", problem: "unexpected text after a closing quote"))
                }
            } else {
                var j = i
                while j < n, base[j] != separator { j += 1 }
                end = j
                i = j
            }
            if column < columnCount, problem == nil {
                let field = FieldRange(start: start, end: end, hasEscapedQuotes: escaped)
                switch roles[column] {
                case .ignored:
                    break
                case .feature(let position):
                    switch parseNumber(base + start, count: end - start) {
                    case .value(let value):
                        features[position] = value
                    case .notFinite:
                        problem = .bad(
                            .badRecord(
                                file: file, position: "line \(lineNumber), column '\(header[column])'",
                                problem: "'\(fieldText(line, field))' is not a finite number"))
                    case .notANumber:
                        problem = .bad(
                            .badRecord(
                                file: file, position: "line \(lineNumber), column '\(header[column])'",
                                problem: "'\(fieldText(line, field))' is not a number"))
                    }
                case .group:
                    let label = fieldText(line, field)
                    if let index = groupIndex[label] {
                        group = index
                    } else {
                        problem = .bad(
                            .badRecord(
                                file: file, position: "line \(lineNumber), column '\(header[column])'",
                                problem: layout.unknownGroupProblem(label)))
                    }
                case .user:
                    user = fieldText(line, field)
                    if user.isEmpty {
                        problem = .bad(
                            .badRecord(
                                file: file, position: "line \(lineNumber), column '\(header[column])'",
                                problem: "the user id is empty"))
                    }
                case .item:
                    if layout.scope != nil { item = fieldText(line, field) }
                }
            }
            column += 1
            if i >= n { break }
            i += 1
        }
        guard column == columnCount else {
            return .bad(.badRecord(file: file, position: "line \(lineNumber)", problem: "expected \(columnCount) columns, found \(column)"))
        }
        return problem ?? layout.admit(item, group: group)
    }
}

/// JSON Lines: one flat JSON object per line; features are numbers, the group (and user) a
/// string or a number. Keys not used are ignored.
final class JSONLinesRecordSource: RecordSource {
    private let reader: LineReader
    private let file: String
    private let layout: DataLayout
    private let groupIndex: [String: Int32]
    private var featureNames: [String]?
    private var featurePosition: [String: Int] = [:]
    private var entries: [(key: String, value: JSONScalar)] = []
    private var filled: [Bool] = []

    init(path: String, displayName: String, layout: DataLayout) throws {
        reader = try LineReader(path: path, displayName: displayName)
        file = displayName
        self.layout = layout
        groupIndex = layout.groupIndex()
        if let features = layout.features { setFeatures(features) }
    }

    private func setFeatures(_ names: [String]) {
        featureNames = names
        featurePosition = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        filled = [Bool](repeating: false, count: names.count)
    }

    func next(features: UnsafeMutablePointer<Double>, user: inout String) throws -> RowOutcome? {
        var line: UnsafeBufferPointer<UInt8>
        repeat {
            guard let next = try reader.nextLine() else { return nil }
            line = next
        } while line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 })
        let lineNumber = reader.lineNumber
        func bad(_ column: String?, _ problem: String) -> RowOutcome {
            .bad(.badRecord(file: file, position: "line \(lineNumber)\(column.map { ", column '\($0)'" } ?? "")", problem: problem))
        }
        if let problem = parseFlatJSONObject(line, into: &entries) { return bad(nil, problem) }
        if featureNames == nil {
            // Features not named: the first object's keys, in their order, minus the others.
            let keys = entries.map(\.key)
            do { setFeatures(try layout.resolveFeatures(available: keys, file: file)) } catch let error as AttentionError {
                throw AttentionError.malformedFile(file: file, problem: "line \(lineNumber): \(error.description)")
            }
        }
        for k in filled.indices { filled[k] = false }
        var group: Int32 = -1
        var item: String?
        var sawUser = false
        var seen = Set<String>()
        for (key, value) in entries {
            guard seen.insert(key).inserted else { return bad(key, "the key appears twice") }
            if key == layout.groupColumn {
                guard let label = value.labelText else { return bad(key, "expected a string or number as the group label, found \(value.kindName)") }
                guard let index = groupIndex[label] else { return bad(key, layout.unknownGroupProblem(label)) }
                group = index
            } else if key == layout.userColumn {
                guard let id = value.labelText, !id.isEmpty else {
                    return bad(key, "expected a non-empty string or number as the user id, found \(value.kindName)")
                }
                user = id
                sawUser = true
            } else if key == layout.itemColumn {
                guard let id = value.labelText else { return bad(key, "expected a string or number as the item id, found \(value.kindName)") }
                item = id
            } else if let position = featurePosition[key] {
                guard case .raw(let text) = value else { return bad(key, "expected a number, found \(value.kindName)") }
                var copy = text
                let parsed: ParsedNumber = copy.isEmpty ? .notANumber : copy.withUTF8 { parseNumber($0.baseAddress!, count: $0.count) }
                switch parsed {
                case .value(let number): features[position] = number
                case .notFinite: return bad(key, "'\(text)' is not a finite number")
                case .notANumber: return bad(key, "'\(text)' is not a number")
                }
                filled[position] = true
            }
        }
        guard group >= 0 else { return bad(layout.groupColumn, "the group field is missing") }
        if let userColumn = layout.userColumn, !sawUser { return bad(userColumn, "the user field is missing") }
        if let itemColumn = layout.itemColumn, item == nil { return bad(itemColumn, "the item field is missing") }
        if let missing = filled.firstIndex(of: false), let names = featureNames {
            return bad(names[missing], "the feature field is missing")
        }
        return layout.admit(item, group: group)
    }
}

/// A scalar of a flat JSON object.
enum JSONScalar {
    case string(String)
    /// A number or a bare word (true, false, null, NaN…), as written.
    case raw(String)

    var labelText: String? {
        switch self {
        case .string(let text): return text
        case .raw(let text):
            if text == "true" || text == "false" || text == "null" { return nil }
            return text
        }
    }

    var kindName: String {
        switch self {
        case .string(let text): return "the string \"\(text)\""
        case .raw(let text): return text == "null" || text == "true" || text == "false" ? text : "'\(text)'"
        }
    }
}

/// Parses `{"key": scalar, …}` (no nested objects or arrays). Returns a problem, or nil.
func parseFlatJSONObject(_ line: UnsafeBufferPointer<UInt8>, into entries: inout [(key: String, value: JSONScalar)]) -> String? {
    entries.removeAll(keepingCapacity: true)
    var i = 0
    let n = line.count
    func skipSpace() { while i < n, line[i] == 32 || line[i] == 9 || line[i] == 13 { i += 1 } }
    func parseString() -> String? {
        // line[i] is the opening quote.
        i += 1
        var bytes: [UInt8] = []
        while i < n {
            let byte = line[i]
            if byte == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                guard i + 1 < n else { return nil }
                let escape = line[i + 1]
                i += 2
                switch escape {
                case UInt8(ascii: "\""): bytes.append(34)
                case UInt8(ascii: "\\"): bytes.append(92)
                case UInt8(ascii: "/"): bytes.append(47)
                case UInt8(ascii: "b"): bytes.append(8)
                case UInt8(ascii: "f"): bytes.append(12)
                case UInt8(ascii: "n"): bytes.append(10)
                case UInt8(ascii: "r"): bytes.append(13)
                case UInt8(ascii: "t"): bytes.append(9)
                case UInt8(ascii: "u"):
                    func hex4() -> UInt32? {
                        guard i + 4 <= n else { return nil }
                        let text = String(decoding: UnsafeBufferPointer(rebasing: line[i..<i + 4]), as: UTF8.self)
                        i += 4
                        return UInt32(text, radix: 16)
                    }
                    guard var code = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(code) {
                        guard i + 2 <= n, line[i] == 92, line[i + 1] == UInt8(ascii: "u") else { return nil }
                        i += 2
                        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { return nil }
                    bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
                continue
            }
            bytes.append(byte)
            i += 1
        }
        return nil
    }
    skipSpace()
    guard i < n, line[i] == UInt8(ascii: "{") else { return "expected a JSON object starting with '{'" }
    i += 1
    skipSpace()
    if i < n, line[i] == UInt8(ascii: "}") {
        i += 1
    } else {
        while true {
            skipSpace()
            guard i < n, line[i] == UInt8(ascii: "\"") else { return "expected a quoted key at byte \(i + 1)" }
            guard let key = parseString() else { return "malformed string at byte \(i + 1)" }
            skipSpace()
            guard i < n, line[i] == UInt8(ascii: ":") else { return "expected ':' after the key \"\(key)\"" }
            i += 1
            skipSpace()
            guard i < n else { return "missing value for the key \"\(key)\"" }
            let value: JSONScalar
            switch line[i] {
            case UInt8(ascii: "\""):
                guard let text = parseString() else { return "malformed string value for the key \"\(key)\"" }
                value = .string(text)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                return "nested objects and arrays are not supported (key \"\(key)\")"
            default:
                let start = i
                while i < n, line[i] != UInt8(ascii: ","), line[i] != UInt8(ascii: "}"), line[i] != 32, line[i] != 9 { i += 1 }
                guard i > start else { return "missing value for the key \"\(key)\"" }
                value = .raw(String(decoding: UnsafeBufferPointer(rebasing: line[start..<i]), as: UTF8.self))
            }
            entries.append((key, value))
            skipSpace()
            guard i < n else { return "unterminated object (missing '}')" }
            if line[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if line[i] == UInt8(ascii: "}") {
                i += 1
                break
            }
            return "expected ',' or '}' after the value of \"\(key)\""
        }
    }
    skipSpace()
    return i == n ? nil : "unexpected text after the object"
}

/// NumPy features (`.npy`, shape (n, d), float32 or float64, C order) with a side file (CSV or
/// TSV with a header) holding the group (and user) column, one row per record.
final class NumPyRecordSource: RecordSource {
    private let array: NumPyFile
    private let side: DelimitedRecordSource
    private let sideName: String
    private let d: Int
    private var buffer: [Double]
    private var bufferedRows = 0
    private var nextRow = 0
    private var record = 0

    init(path: String, displayName: String, sidePath: String, sideName: String, layout: DataLayout) throws {
        array = try NumPyFile(path: path, displayName: displayName)
        guard array.shape.count == 2 else {
            throw AttentionError.malformedFile(file: displayName, problem: "expected a two-dimensional array (records × features), found shape \(array.shape)")
        }
        guard array.columns == layout.featureDimension else {
            throw AttentionError.shapeMismatch("\(displayName): expected \(layout.featureDimension) features per record (d), found shape \(array.shape)")
        }
        side = try DelimitedRecordSource(path: sidePath, displayName: sideName, layout: layout.labelsOnly)
        self.sideName = sideName
        d = array.columns
        buffer = [Double](repeating: 0, count: 4096 * max(d, 1))
    }

    func next(features: UnsafeMutablePointer<Double>, user: inout String) throws -> RowOutcome? {
        if nextRow == bufferedRows {
            bufferedRows = try buffer.withUnsafeMutableBufferPointer { try array.readRows(into: $0.baseAddress!, count: 4096) }
            nextRow = 0
            if bufferedRows == 0 {
                var scratch = 0.0
                if try side.next(features: &scratch, user: &user) != nil {
                    throw AttentionError.malformedFile(file: sideName, problem: "has more rows than \(array.displayName) has records (\(array.rows))")
                }
                return nil
            }
        }
        record += 1
        let row = nextRow
        nextRow += 1
        var scratch = 0.0
        guard let labels = try side.next(features: &scratch, user: &user) else {
            throw AttentionError.malformedFile(file: sideName, problem: "has fewer rows than \(array.displayName) has records (\(array.rows))")
        }
        guard case .record = labels else { return labels }
        for k in 0..<d {
            let value = buffer[row * d + k]
            guard value.isFinite else {
                return .bad(.badRecord(file: array.displayName, position: "record \(record), column \(k + 1)", problem: "\(value) is not a finite number"))
            }
            features[k] = value
        }
        return labels
    }
}
