import Foundation

/// A party's local attention matrix A_p (or a global one): G × M, labelled, with the number of
/// records per group.
public struct AttentionResult: Sendable, Equatable {
    /// Row labels, in the manifest's order.
    public var groups: [String]
    /// Column labels (anchor names), in the anchors file's order.
    public var anchors: [String]
    /// The matrix, row-major: `matrix[g * anchors.count + a]`.
    public var matrix: [Double]
    /// Records per group.
    public var counts: [Int]
    /// What reading the data found (empty for results built in memory).
    public var report: IngestionReport

    public init(groups: [String], anchors: [String], matrix: [Double], counts: [Int], report: IngestionReport = IngestionReport()) {
        precondition(matrix.count == groups.count * anchors.count && counts.count == groups.count, "shape mismatch")
        self.groups = groups
        self.anchors = anchors
        self.matrix = matrix
        self.counts = counts
        self.report = report
    }

    /// The entry for group `g` and anchor `a`.
    public subscript(group g: Int, anchor a: Int) -> Double { matrix[g * anchors.count + a] }

    /// The matrix as rows.
    public var rows: [[Double]] { (0..<groups.count).map { Array(matrix[$0 * anchors.count..<($0 + 1) * anchors.count]) } }

    /// ΣΣA: for a local matrix, the number of records counted (each adds a probability vector).
    public var total: Double { matrix.reduce(0, +) }

    /// The matrix as a labelled matrix (rows = groups, columns = anchors).
    public var labelled: LabelledMatrix {
        LabelledMatrix(corner: "group", rowLabels: groups, columnLabels: anchors, values: matrix)
    }

    /// The counts as CSV: a `group,count` header, then one row per group.
    public func countsCSV() -> String {
        var text = "group,count\n"
        for (g, label) in groups.enumerated() { text += "\(csvField(label)),\(counts[g])\n" }
        return text
    }

    /// Reads counts written by `countsCSV()`, in the order of `groups`.
    public static func readCounts(from url: URL, groups: [String]) throws -> [Int] {
        let name = url.lastPathComponent
        let rows = try readSmallDelimitedFile(path: url.path, displayName: name)
        guard let header = rows.first, header.fields.map({ $0.trimmingCharacters(in: .whitespaces) }) == ["group", "count"] else {
            throw AttentionError.malformedFile(file: name, problem: "expected the header 'group,count'")
        }
        var byGroup: [String: Int] = [:]
        for row in rows.dropFirst() {
            guard row.fields.count == 2 else {
                throw AttentionError.badRecord(file: name, position: "line \(row.line)", problem: "expected 2 columns, found \(row.fields.count)")
            }
            guard let count = Int(row.fields[1].trimmingCharacters(in: .whitespaces)), count >= 0 else {
                throw AttentionError.badRecord(
                    file: name, position: "line \(row.line), column 'count'", problem: "'\(row.fields[1])' is not a non-negative integer")
            }
            guard byGroup.updateValue(count, forKey: row.fields[0]) == nil else {
                throw AttentionError.badRecord(file: name, position: "line \(row.line)", problem: "group '\(row.fields[0])' appears twice")
            }
        }
        return try groups.map { group in
            guard let count = byGroup[group] else { throw AttentionError.malformedFile(file: name, problem: "no count for group '\(group)'") }
            return count
        }
    }
}

/// What reading a data file found.
public struct IngestionReport: Sendable, Equatable, Codable {
    /// Good records read (before contribution bounding).
    public var recordsRead = 0
    /// Records that entered the matrix.
    public var recordsUsed = 0
    /// Bad rows skipped (only with skip-bad-rows).
    public var badRowsSkipped = 0
    /// The first few bad rows' messages.
    public var badRowExamples: [String] = []
    /// Records left out by `max_records_per_user`.
    public var recordsDroppedByUserBound = 0
    /// Users who had more than `max_records_per_user` records.
    public var usersOverBound = 0
    /// Distinct users among the good records read (nil without a user column).
    public var users: Int?
    /// Good rows about items outside a scope, left out before everything above (nil: no scope).
    public var recordsOutOfScope: Int?

    public init() {}
}

/// A matrix with row and column labels, stored as CSV: a header row `corner,<column labels…>`
/// then one row per row label, `label,<values…>`; values are written as the shortest decimal
/// that reads back to the same Double.
public struct LabelledMatrix: Sendable, Equatable {
    /// The header's first cell (e.g. "group").
    public var corner: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// Row-major values.
    public var values: [Double]

    public init(corner: String, rowLabels: [String], columnLabels: [String], values: [Double]) {
        precondition(values.count == rowLabels.count * columnLabels.count, "shape mismatch")
        self.corner = corner
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
    }

    public subscript(row: Int, column: Int) -> Double { values[row * columnLabels.count + column] }

    /// The CSV text.
    public func csv() -> String {
        var text = ([corner] + columnLabels).map { csvField($0) }.joined(separator: ",") + "\n"
        let width = columnLabels.count
        for (r, label) in rowLabels.enumerated() {
            text += csvField(label)
            for c in 0..<width { text += "," + csvNumber(values[r * width + c]) }
            text += "\n"
        }
        return text
    }

    /// Reads a labelled matrix CSV (or TSV by extension).
    /// - Throws: `AttentionError` naming the file and line of the first problem.
    public static func read(from url: URL) throws -> LabelledMatrix {
        let name = url.lastPathComponent
        let rows = try readSmallDelimitedFile(path: url.path, displayName: name)
        guard let header = rows.first else { throw AttentionError.malformedFile(file: name, problem: "the file is empty") }
        guard header.fields.count >= 2 else {
            throw AttentionError.malformedFile(file: name, problem: "the header needs a corner cell and at least one column label")
        }
        let columns = Array(header.fields.dropFirst())
        if let duplicate = firstDuplicate(columns) {
            throw AttentionError.malformedFile(file: name, problem: "column label '\(duplicate)' appears twice in the header")
        }
        var labels: [String] = []
        var values: [Double] = []
        for row in rows.dropFirst() {
            guard row.fields.count == header.fields.count else {
                throw AttentionError.badRecord(
                    file: name, position: "line \(row.line)",
                    problem: "expected \(header.fields.count) columns, found \(row.fields.count)")
            }
            labels.append(row.fields[0])
            for (c, text) in row.fields.dropFirst().enumerated() {
                values.append(try parseFiniteNumber(text, file: name, position: "line \(row.line), column '\(columns[c])'"))
            }
        }
        guard !labels.isEmpty else { throw AttentionError.malformedFile(file: name, problem: "no data rows after the header") }
        if let duplicate = firstDuplicate(labels) {
            throw AttentionError.malformedFile(file: name, problem: "row label '\(duplicate)' appears twice")
        }
        return LabelledMatrix(corner: header.fields[0], rowLabels: labels, columnLabels: columns, values: values)
    }
}

extension AttentionResult {
    /// Reads an attention CSV (and optionally its counts CSV).
    public static func read(attention url: URL, counts countsURL: URL? = nil) throws -> AttentionResult {
        let matrix = try LabelledMatrix.read(from: url)
        let counts =
            try countsURL.map { try readCounts(from: $0, groups: matrix.rowLabels) }
            ?? [Int](repeating: 0, count: matrix.rowLabels.count)
        return AttentionResult(groups: matrix.rowLabels, anchors: matrix.columnLabels, matrix: matrix.values, counts: counts)
    }
}
