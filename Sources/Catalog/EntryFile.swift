import Foundation

/// Reads catalog entries from a JSON Lines (`.jsonl`, `.ndjson`) or CSV (`.csv`) file.
///
/// JSONL: one object per line with exactly the fields `id`, `kind`, `name`, `tags`,
/// `attributes`, `start`, `end`, `location` (`{"x": …, "y": …, "z": …}`); unknown fields are
/// refused. CSV: a header naming `id`, `kind`, `name` and optionally `tags`, `start`, `end`, `x`,
/// `y`, `z` (any order); every other column is an attribute. In CSV an empty cell means absent
/// (so an attribute cannot have an empty value there), and tags are separated by `;` (spaces
/// around each tag dropped). Either way the whole file is checked before anything is returned:
/// the first bad line is reported with its file, line and field, and nothing is imported.
public enum EntryFile {
    /// The CSV columns with a meaning of their own; any other column is an attribute.
    public static let csvColumns = ["id", "kind", "name", "tags", "start", "end", "x", "y", "z"]

    /// Reads and checks every entry of the file at `path` (named `displayName` in errors).
    /// - Throws: `CatalogError.unreadable` or `.invalidEntry` (file, line, field); duplicate
    ///   ids in one file are refused, naming both lines.
    public static func read(path: String, displayName: String? = nil) throws -> [CatalogEntry] {
        let name = displayName ?? path
        let lower = path.lowercased()
        let format: (Data, String) throws -> [(line: Int, entry: CatalogEntry)]
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") {
            format = parseJSONLines
        } else if lower.hasSuffix(".csv") {
            format = parseCSV
        } else {
            throw CatalogError.unreadable(file: name, reason: "unknown format (expected a .jsonl or .csv file)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw CatalogError.unreadable(file: name, reason: "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CatalogError.unreadable(file: name, reason: "cannot be read")
        }
        return try checked(try format(data, name), file: name)
    }

    /// Reads and checks entries from JSON Lines bytes (a canonical export, as a party publishes
    /// it), named `file` in errors.
    /// - Throws: `CatalogError.invalidEntry` (file, line, field), as ``read(path:displayName:)``.
    public static func parse(jsonLines data: Data, file: String) throws -> [CatalogEntry] {
        try checked(try parseJSONLines(data, file: file), file: file)
    }

    /// Refuses invalid entries and repeated ids, naming the line.
    static func checked(_ lines: [(line: Int, entry: CatalogEntry)], file: String) throws -> [CatalogEntry] {
        let entries = lines.map(\.entry)
        try check(entries, file: file) { lines[$0].line }
        return entries
    }

    /// Refuses invalid entries and repeated ids; `entries[i]` is on line `line(i)`.
    static func check(_ entries: [CatalogEntry], file: String, line: (Int) -> Int) throws {
        var firstLine: [String: Int] = [:]
        firstLine.reserveCapacity(entries.count)
        try entries.withUnsafeBufferPointer { entries in
            for index in entries.indices {
                if let (field, reason) = entries[index].violation {
                    throw CatalogError.invalidEntry(file: file, line: line(index), field: field, reason: reason)
                }
                if let earlier = firstLine.updateValue(line(index), forKey: entries[index].id) {
                    let reason = "\"\(entries[index].id)\" is already on line \(earlier)"
                    throw CatalogError.invalidEntry(file: file, line: line(index), field: "id", reason: reason)
                }
            }
        }
    }

    // MARK: JSON Lines

    static func parseJSONLines(_ data: Data, file: String) throws -> [(line: Int, entry: CatalogEntry)] {
        let decoder = JSONDecoder()
        var result: [(line: Int, entry: CatalogEntry)] = []
        var lineNumber = 0
        var start = data.startIndex
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
        while start < data.endIndex {
            lineNumber += 1
            let end = data[start...].firstIndex(of: 10) ?? data.endIndex
            let line = data[start..<end]
            start = end == data.endIndex ? end : end + 1
            guard line.contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { continue }
            do {
                result.append((lineNumber, try decoder.decode(CatalogEntry.self, from: line)))
            } catch let error as DecodingError {
                let (field, reason) = describe(error)
                throw CatalogError.invalidEntry(file: file, line: lineNumber, field: field, reason: reason)
            }
        }
        return result
    }

    /// The field (dotted path) and a one-line reason for a JSON decoding failure.
    static func describe(_ error: DecodingError) -> (field: String?, reason: String) {
        func path(_ codingPath: [any CodingKey]) -> String? {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
            return text.isEmpty ? nil : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            return (path(context.codingPath + [key]), "missing")
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return (nil, "not a JSON object") }
            return (path(context.codingPath), "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return (path(context.codingPath), "expected \(describe(type)), found null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return (nil, "not a JSON object") }
            return (path(context.codingPath), context.debugDescription)
        @unknown default:
            return (nil, "cannot decode JSON")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Double.Type: return "a number"
        case is [String].Type: return "an array of strings"
        case is [String: String].Type: return "an object of strings"
        default: return "\(type)"
        }
    }

    // MARK: CSV

    static func parseCSV(_ data: Data, file: String) throws -> [(line: Int, entry: CatalogEntry)] {
        let records: [CSVRecords.Record]
        do { records = try CSVRecords.parse([UInt8](data)) } catch {
            throw CatalogError.invalidEntry(file: file, line: error.line, field: nil, reason: error.reason)
        }
        guard let header = records.first else { return [] }
        var column: [String: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            guard !name.isEmpty else {
                throw CatalogError.invalidEntry(file: file, line: header.line, field: nil, reason: "column \(index + 1) has no name")
            }
            guard column.updateValue(index, forKey: name) == nil else {
                throw CatalogError.invalidEntry(file: file, line: header.line, field: name, reason: "column named twice")
            }
        }
        for required in ["id", "kind", "name"] where column[required] == nil {
            throw CatalogError.invalidEntry(file: file, line: header.line, field: required, reason: "missing column")
        }
        let attributeColumns = header.fields.enumerated().filter { !csvColumns.contains($0.element) }
        return try records.dropFirst().map { record in
            let fields = record.fields
            guard fields.count == header.fields.count else {
                throw CatalogError.invalidEntry(
                    file: file, line: record.line, field: nil,
                    reason: "expected \(header.fields.count) fields, found \(fields.count)")
            }
            func cell(_ name: String) -> String? {
                guard let index = column[name], !fields[index].isEmpty else { return nil }
                return fields[index]
            }
            func instant(_ name: String) throws -> Instant? {
                guard let text = cell(name) else { return nil }
                do { return try Instant(rfc3339: text) } catch {
                    throw CatalogError.invalidEntry(file: file, line: record.line, field: name, reason: error.description)
                }
            }
            func number(_ name: String) throws -> Double? {
                guard let text = cell(name) else { return nil }
                guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                    throw CatalogError.invalidEntry(file: file, line: record.line, field: name, reason: "not a finite number (\"\(text)\")")
                }
                return value
            }
            var entry = CatalogEntry(id: fields[column["id"]!], kind: fields[column["kind"]!], name: fields[column["name"]!])
            entry.tags = (cell("tags") ?? "").split(separator: ";")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            entry.start = try instant("start")
            entry.end = try instant("end")
            let (x, y, z) = (try number("x"), try number("y"), try number("z"))
            switch (x, y) {
            case (let x?, let y?): entry.location = Location(x: x, y: y, z: z)
            case (nil, nil):
                if z != nil {
                    throw CatalogError.invalidEntry(file: file, line: record.line, field: "z", reason: "z without x and y")
                }
            case (nil, _): throw CatalogError.invalidEntry(file: file, line: record.line, field: "x", reason: "missing (y is given)")
            case (_, nil): throw CatalogError.invalidEntry(file: file, line: record.line, field: "y", reason: "missing (x is given)")
            }
            for (index, name) in attributeColumns where !fields[index].isEmpty {
                entry.attributes[name] = fields[index]
            }
            return (record.line, entry)
        }
    }
}
