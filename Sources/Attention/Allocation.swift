import Foundation

/// Resource allocation from a global attention matrix (Papers/design.md §1): the normalised matrix
/// A / ΣΣA, the share of total attention per anchor (column sums) and per group (row sums), and
/// for each node with a capacity c, c × its share.
///
/// Capacities file (CSV, or TSV by extension): a header `node,capacity` or
/// `node,kind,capacity`, then one row per node. `node` names an anchor (a column of the matrix)
/// or a group (a row); `kind` (`anchor` or `group`) is needed only when a name is both.
/// Capacities are finite and non-negative; each node appears once; nodes not listed get none.
public struct Allocation: Sendable, Equatable {
    /// What a node is.
    public enum NodeKind: String, Sendable, Equatable, Codable { case anchor, group }

    /// One line of a capacities file.
    public struct Capacity: Sendable, Equatable {
        public var node: String
        public var kind: NodeKind?
        public var capacity: Double
        public init(node: String, kind: NodeKind? = nil, capacity: Double) {
            self.node = node
            self.kind = kind
            self.capacity = capacity
        }
    }

    /// One allocated node.
    public struct Entry: Sendable, Equatable, Codable {
        public var node: String
        public var kind: NodeKind
        public var capacity: Double
        /// The node's share of total attention (sums to 1 over anchors, and over groups).
        public var share: Double
        /// capacity × share.
        public var allocation: Double
    }

    /// A / ΣΣA.
    public var normalised: LabelledMatrix
    /// Column sums of the normalised matrix, in anchor order.
    public var anchorShares: [Double]
    /// Row sums of the normalised matrix, in group order.
    public var groupShares: [Double]
    /// The allocations, in the capacities file's order.
    public var entries: [Entry]

    /// - Throws: `AttentionError.allocation` if the matrix has negative entries (noise can
    ///   make them so: clamp before allocating), a non-positive total, or a capacity names an
    ///   unknown or ambiguous node.
    public init(attention: LabelledMatrix, capacities: [Capacity], source: String = "capacities") throws {
        guard attention.values.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw AttentionError.allocation(file: "attention", problem: "entries must be finite and non-negative (clamp a noisy release at 0 first)")
        }
        let total = attention.values.reduce(0, +)
        guard total > 0 else { throw AttentionError.allocation(file: "attention", problem: "the matrix sums to 0: nothing to allocate") }
        let rows = attention.rowLabels.count
        let columns = attention.columnLabels.count
        let values = attention.values.map { $0 / total }
        normalised = LabelledMatrix(corner: attention.corner, rowLabels: attention.rowLabels, columnLabels: attention.columnLabels, values: values)
        var anchorShares = [Double](repeating: 0, count: columns)
        var groupShares = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            for c in 0..<columns {
                anchorShares[c] += values[r * columns + c]
                groupShares[r] += values[r * columns + c]
            }
        }
        self.anchorShares = anchorShares
        self.groupShares = groupShares
        var seen = Set<String>()
        entries = try capacities.map { capacity in
            let anchorIndex = attention.columnLabels.firstIndex(of: capacity.node)
            let groupIndex = attention.rowLabels.firstIndex(of: capacity.node)
            let kind: NodeKind
            switch (capacity.kind, anchorIndex, groupIndex) {
            case (.anchor?, .some, _), (nil, .some, nil): kind = .anchor
            case (.group?, _, .some), (nil, nil, .some): kind = .group
            case (nil, .some, .some):
                throw AttentionError.allocation(
                    file: source, problem: "node '\(capacity.node)' is both an anchor and a group: add a kind column (anchor or group)")
            default:
                throw AttentionError.allocation(
                    file: source,
                    problem:
                        "node '\(capacity.node)' is not \(capacity.kind.map { "a known \($0.rawValue)" } ?? "an anchor or a group") of the attention matrix")
            }
            guard seen.insert("\(kind.rawValue):\(capacity.node)").inserted else {
                throw AttentionError.allocation(file: source, problem: "node '\(capacity.node)' appears twice")
            }
            let share = kind == .anchor ? anchorShares[anchorIndex!] : groupShares[groupIndex!]
            return Entry(node: capacity.node, kind: kind, capacity: capacity.capacity, share: share, allocation: capacity.capacity * share)
        }
    }

    /// Reads a capacities file.
    public static func readCapacities(from url: URL) throws -> [Capacity] {
        let name = url.lastPathComponent
        let rows = try readSmallDelimitedFile(path: url.path, displayName: name)
        guard let header = rows.first else { throw AttentionError.allocation(file: name, problem: "the file is empty (expected a header 'node,capacity')") }
        let columns = header.fields.map { $0.trimmingCharacters().lowercased() }
        guard columns == ["node", "capacity"] || columns == ["node", "kind", "capacity"] else {
            throw AttentionError.allocation(
                file: name, problem: "expected the header 'node,capacity' or 'node,kind,capacity', found '\(header.fields.joined(separator: ","))'")
        }
        let hasKind = columns.count == 3
        var capacities: [Capacity] = []
        for row in rows.dropFirst() {
            guard row.fields.count == columns.count else {
                throw AttentionError.badRecord(
                    file: name, position: "line \(row.line)", problem: "expected \(columns.count) columns, found \(row.fields.count)")
            }
            let node = row.fields[0]
            guard !node.isEmpty else {
                throw AttentionError.badRecord(file: name, position: "line \(row.line), column 'node'", problem: "the node name is empty")
            }
            var kind: NodeKind?
            if hasKind {
                let text = row.fields[1].trimmingCharacters()
                guard text.isEmpty || NodeKind(rawValue: text) != nil else {
                    throw AttentionError.badRecord(
                        file: name, position: "line \(row.line), column 'kind'", problem: "expected 'anchor' or 'group', found '\(text)'")
                }
                kind = NodeKind(rawValue: text)
            }
            let capacity = try parseFiniteNumber(row.fields[columns.count - 1], file: name, position: "line \(row.line), column 'capacity'")
            guard capacity >= 0 else {
                throw AttentionError.badRecord(
                    file: name, position: "line \(row.line), column 'capacity'", problem: "expected a non-negative capacity, found \(capacity)")
            }
            capacities.append(Capacity(node: node, kind: kind, capacity: capacity))
        }
        guard !capacities.isEmpty else { throw AttentionError.allocation(file: name, problem: "no capacities after the header") }
        return capacities
    }

    /// The allocations as CSV: `node,kind,capacity,share,allocation`.
    public func csv() -> String {
        var text = "node,kind,capacity,share,allocation\n"
        for entry in entries {
            text +=
                [csvField(entry.node), entry.kind.rawValue, csvNumber(entry.capacity), csvNumber(entry.share), csvNumber(entry.allocation)]
                .joined(separator: ",") + "\n"
        }
        return text
    }

    /// The shares as CSV: `node,kind,share`, every anchor then every group.
    public func sharesCSV() -> String {
        var text = "node,kind,share\n"
        for (c, label) in normalised.columnLabels.enumerated() { text += "\(csvField(label)),anchor,\(csvNumber(anchorShares[c]))\n" }
        for (r, label) in normalised.rowLabels.enumerated() { text += "\(csvField(label)),group,\(csvNumber(groupShares[r]))\n" }
        return text
    }
}
