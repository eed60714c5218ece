import GRDB

/// Builds an R*Tree from scratch by Sort-Tile-Recursive packing and writes it straight into
/// the virtual table's shadow tables (`<name>_node`, `<name>_rowid`, `<name>_parent`), in the
/// caller's transaction. SQLite inserts R*Tree boxes one at a time (choose-subtree, split,
/// forced reinsert: several µs each) and has no bulk load; packing a sorted array is about ten
/// times cheaper, so a large import rebuilds the whole tree this way.
///
/// The node format is SQLite's (`ext/rtree/rtree.c`): a node is a blob of the table's node
/// size; the root (node 1) starts with the tree's depth (2 bytes, big-endian; leaves have depth
/// 0), every node then holds its cell count (2 bytes) and its cells: an 8-byte rowid (a child's
/// node number in an inner node) and, per dimension, the low and high bound as 4-byte floats,
/// all big-endian. Node sizes and cell capacity are read from the existing empty-or-not root,
/// so the tree is exactly what SQLite itself would accept (`rtreecheck` says `ok`).
struct RTreeBulkLoad {
    let table: String
    let dimensions: Int
    /// Rowids of the boxes and their bounds, `2 * dimensions` floats per box (low, high per
    /// dimension), already rounded outward.
    var rowids: [Int64] = []
    var bounds: [Float] = []

    init(table: String, dimensions: Int) {
        self.table = table
        self.dimensions = dimensions
    }

    var count: Int { rowids.count }

    /// Adds a one-dimensional box.
    mutating func append(_ rowid: Int64, _ low: Float, _ high: Float) {
        rowids.append(rowid)
        bounds.append(low)
        bounds.append(high)
    }

    /// Adds a two-dimensional box.
    mutating func append(_ rowid: Int64, _ minX: Float, _ maxX: Float, _ minY: Float, _ maxY: Float) {
        rowids.append(rowid)
        bounds.append(minX)
        bounds.append(maxX)
        bounds.append(minY)
        bounds.append(maxY)
    }

    /// Adds every box the table holds now (before it is rebuilt).
    mutating func appendExisting(_ db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(table)_rowid)") == true else { return }
        let width = 2 * dimensions
        let select = try RawStatement(db, "SELECT * FROM \(table)")
        while try select.step() {
            rowids.append(select.int64(0))
            for column in 0..<width { bounds.append(Float(select.double(Int32(column + 1)))) }
        }
    }

    /// Replaces the table's tree by one packed from the boxes held here.
    func write(_ db: Database) throws {
        try pack(nodeBytes: try Self.nodeBytes(of: table, db)).write(db)
    }

    /// The node size of `table`, read from its root (present even when the tree is empty).
    static func nodeBytes(of table: String, _ db: Database) throws -> Int {
        guard let nodeBytes = try Int.fetchOne(db, sql: "SELECT length(data) FROM \(table)_node WHERE nodeno = 1") else {
            throw DatabaseError(message: "\(table): no R*Tree root node")
        }
        return nodeBytes
    }

    /// The tree packed from the boxes held here, in memory: no database needed, so it can be
    /// built on another thread while the import writes other tables.
    /// - Parameter nodeBytes: the table's node size (`nodeBytes(of:_:)`).
    func pack(nodeBytes: Int) throws -> PackedRTree {
        let width = 2 * dimensions
        let cellBytes = 8 + 4 * width
        guard nodeBytes > 4 + cellBytes else { throw DatabaseError(message: "\(table): R*Tree nodes of \(nodeBytes) bytes") }
        let capacity = min((nodeBytes - 4) / cellBytes, 51)

        // Level 0 groups box indices; level k > 0 groups nodes of level k - 1.
        var levels: [[Range<Int>]] = []  // each node: a range of `order[level]`
        var orders: [[Int]] = []  // the members of each level, in packed order
        var levelBounds: [[Float]] = []  // the bounding box of each member of the level below
        var members = rowids.count
        var memberBounds = bounds
        repeat {
            let order = Self.tile(members, bounds: memberBounds, dimensions: dimensions, capacity: capacity)
            var nodes: [Range<Int>] = []
            var nodeBounds: [Float] = []
            nodes.reserveCapacity(order.count / capacity + 1)
            nodeBounds.reserveCapacity((order.count / capacity + 1) * width)
            var start = 0
            while start < order.count || (start == 0 && order.isEmpty) {
                let end = min(start + capacity, order.count)
                nodes.append(start..<end)
                let first = nodeBounds.count
                for _ in 0..<dimensions {
                    nodeBounds.append(.infinity)
                    nodeBounds.append(-.infinity)
                }
                for position in start..<end {
                    let member = order[position]
                    for bound in stride(from: 0, to: width, by: 2) {
                        nodeBounds[first + bound] = min(nodeBounds[first + bound], memberBounds[member * width + bound])
                        nodeBounds[first + bound + 1] = max(nodeBounds[first + bound + 1], memberBounds[member * width + bound + 1])
                    }
                }
                if end == order.count { break }
                start = end
            }
            orders.append(order)
            levels.append(nodes)
            levelBounds.append(memberBounds)
            members = nodes.count
            memberBounds = nodeBounds
        } while levels.last!.count > 1

        // Node numbers: the root is 1, then each level from the top down, in order.
        var firstNumber = [Int64](repeating: 0, count: levels.count)
        var next: Int64 = 1
        for level in stride(from: levels.count - 1, through: 0, by: -1) {
            firstNumber[level] = next
            next += Int64(levels[level].count)
        }

        var packed = PackedRTree(table: table, nodeBytes: nodeBytes)
        var blobs = [UInt8](repeating: 0, count: Int(next - 1) * nodeBytes)
        var parents: [(child: Int64, parent: Int64)] = []
        parents.reserveCapacity(Int(next))
        var leafOf = [Int64](repeating: 0, count: rowids.count)
        blobs.withUnsafeMutableBufferPointer { blobs in
            for level in 0..<levels.count {
                let order = orders[level]
                let childBounds = levelBounds[level]
                for (index, range) in levels[level].enumerated() {
                    let number = firstNumber[level] + Int64(index)
                    var offset = Int(number - 1) * nodeBytes
                    if number == 1 { Self.put16(UInt16(levels.count - 1), blobs, at: offset) }
                    Self.put16(UInt16(range.count), blobs, at: offset + 2)
                    offset += 4
                    for position in range {
                        let member = order[position]
                        let id: Int64
                        if level == 0 {
                            id = rowids[member]
                            leafOf[member] = number
                        } else {
                            id = firstNumber[level - 1] + Int64(member)
                            parents.append((id, number))
                        }
                        Self.put64(UInt64(bitPattern: id), blobs, at: offset)
                        offset += 8
                        for bound in 0..<width {
                            Self.put32(childBounds[member * width + bound].bitPattern, blobs, at: offset)
                            offset += 4
                        }
                    }
                }
            }
        }
        packed.blobs = blobs
        packed.parents = parents
        // Rowid order makes the inserts appends to the `_rowid` B-tree.
        if zip(rowids, rowids.dropFirst()).allSatisfy({ $0 < $1 }) {
            packed.rowids = rowids
            packed.leaves = leafOf
        } else {
            var byRowid = Array(rowids.indices)
            byRowid.sort { rowids[$0] < rowids[$1] }
            packed.rowids = byRowid.map { rowids[$0] }
            packed.leaves = byRowid.map { leafOf[$0] }
        }
        return packed
    }

    /// Sort-Tile-Recursive order of `count` boxes: sorted by the centre of the first dimension,
    /// cut into slabs of whole nodes, each slab sorted by the next dimension, and so on.
    static func tile(_ count: Int, bounds: [Float], dimensions: Int, capacity: Int) -> [Int] {
        let width = 2 * dimensions
        // Twice the centre of each box in each dimension (halved first: no overflow to infinity).
        var centers = [Float](repeating: 0, count: count * dimensions)
        for member in 0..<count {
            for dimension in 0..<dimensions {
                centers[member * dimensions + dimension] = bounds[member * width + 2 * dimension] / 2 + bounds[member * width + 2 * dimension + 1] / 2
            }
        }
        var order = Array(0..<count)
        func arrange(_ range: Range<Int>, dimension: Int) {
            centers.withUnsafeBufferPointer { centers in
                order[range].sort { centers[$0 * dimensions + dimension] < centers[$1 * dimensions + dimension] }
            }
            guard dimension + 1 < dimensions else { return }
            let nodes = (range.count + capacity - 1) / capacity
            let slabs = Int(Double(nodes).squareRoot().rounded(.up))  // dimensions ≤ 2 here
            let slabSize = ((nodes + slabs - 1) / slabs) * capacity
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + slabSize, range.upperBound)
                arrange(start..<end, dimension: dimension + 1)
                start = end
            }
        }
        if count > 0 { arrange(0..<count, dimension: 0) }
        return order
    }

    static func put16(_ value: UInt16, _ blob: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        blob[offset] = UInt8(value >> 8)
        blob[offset + 1] = UInt8(value & 0xFF)
    }

    static func put32(_ value: UInt32, _ blob: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for byte in 0..<4 { blob[offset + byte] = UInt8((value >> (24 - 8 * UInt32(byte))) & 0xFF) }
    }

    static func put64(_ value: UInt64, _ blob: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for byte in 0..<8 { blob[offset + byte] = UInt8((value >> (56 - 8 * UInt64(byte))) & 0xFF) }
    }
}

/// An R*Tree packed by `RTreeBulkLoad.pack(nodeBytes:)`, ready to replace a table's tree.
struct PackedRTree: Sendable {
    let table: String
    let nodeBytes: Int
    /// Node `n`'s blob is bytes `(n - 1) * nodeBytes ..< n * nodeBytes` (nodes are numbered 1…).
    var blobs: [UInt8] = []
    /// (child, parent) of every inner node's child.
    var parents: [(child: Int64, parent: Int64)] = []
    /// Every box's rowid, ascending, and the leaf node that holds it.
    var rowids: [Int64] = []
    var leaves: [Int64] = []

    init(table: String, nodeBytes: Int) {
        self.table = table
        self.nodeBytes = nodeBytes
    }

    var nodeCount: Int { blobs.count / nodeBytes }

    /// Replaces the table's tree by this one, in the caller's transaction.
    func write(_ db: Database) throws {
        try db.execute(sql: "DELETE FROM \(table)_node; DELETE FROM \(table)_parent; DELETE FROM \(table)_rowid")
        let insertNode = try RawStatement(db, "INSERT INTO \(table)_node (nodeno, data) VALUES (?, ?)")
        for node in 0..<nodeCount {
            insertNode.bind(1, Int64(node + 1))
            insertNode.bind(2, blob: blobs[node * nodeBytes..<(node + 1) * nodeBytes])
            try insertNode.run()
        }
        let insertParent = try RawStatement(db, "INSERT INTO \(table)_parent (nodeno, parentnode) VALUES (?, ?)")
        for (child, parent) in parents {
            insertParent.bind(1, child)
            insertParent.bind(2, parent)
            try insertParent.run()
        }
        // `rowsPerInsert` rows a statement saves most of the cost of running one statement per row.
        let rowsPerInsert = 100
        let insertRowids = try RawStatement(
            db,
            "INSERT INTO \(table)_rowid (rowid, nodeno) VALUES "
                + Array(repeating: "(?, ?)", count: rowsPerInsert).joined(separator: ", "))
        var written = 0
        while rowids.count - written >= rowsPerInsert {
            for row in 0..<rowsPerInsert {
                insertRowids.bind(Int32(2 * row + 1), rowids[written + row])
                insertRowids.bind(Int32(2 * row + 2), leaves[written + row])
            }
            try insertRowids.run()
            written += rowsPerInsert
        }
        let insertRowid = try RawStatement(db, "INSERT INTO \(table)_rowid (rowid, nodeno) VALUES (?, ?)")
        for row in written..<rowids.count {
            insertRowid.bind(1, rowids[row])
            insertRowid.bind(2, leaves[row])
            try insertRowid.run()
        }
    }
}
