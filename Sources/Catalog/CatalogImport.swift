import Foundation
import GRDB

extension Catalog {
    /// Adds `entries` to `world`, replacing any entry of that world with the same id (in every
    /// table), all in one transaction: either every entry is in or none is.
    /// - Throws: `CatalogError.invalidEntry` (file "entries", line = position + 1) for an invalid
    ///   entry or an id given twice; `.storage` when the write fails.
    /// - Complexity: O(n log N); one prepared statement per table.
    public func importEntries(_ entries: [CatalogEntry], world: String = Catalog.localWorld) throws {
        try Self.check(entries)
        try write { db in
            let worldHasEntries = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM entries WHERE world = ?)", arguments: [world]) ?? false
            let writer = try EntryWriter(db, adding: entries)
            if worldHasEntries {
                for entry in entries { try writer.delete(world: world, id: entry.id) }
            }
            for entry in entries { try writer.insert(entry, world: world) }
            try writer.finish()
        }
    }

    /// Makes `entries` the whole of `world`: every earlier entry of that world is removed and the
    /// new ones added in one transaction, so a reader sees the old world or the new, never a mix.
    public func replaceWorld(_ world: String, with entries: [CatalogEntry]) throws {
        try Self.check(entries)
        try write { db in try replaceEntries(of: world, with: entries, db) }
    }

    /// Within a transaction: removes every entry of `world`, then inserts `entries`.
    func replaceEntries(of world: String, with entries: [CatalogEntry], _ db: Database) throws {
        let writer = try EntryWriter(db, adding: entries)
        for id in try String.fetchAll(db, sql: "SELECT id FROM entries WHERE world = ?", arguments: [world]) {
            try writer.delete(world: world, id: id)
        }
        for entry in entries { try writer.insert(entry, world: world) }
        try writer.finish()
    }

    /// Removes `world` and all its entries.
    public func removeWorld(_ world: String) throws { try replaceWorld(world, with: []) }

    static func check(_ entries: [CatalogEntry]) throws {
        _ = try EntryFile.checked(entries.enumerated().map { ($0.offset + 1, $0.element) }, file: "entries")
    }

    func write(_ body: (Database) throws -> Void) throws {
        do {
            try queue.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try body(db)
                    return .commit
                }
            }
        } catch let error as DatabaseError {
            throw CatalogError.storage(path: path, reason: "import failed, nothing imported: \(error.message ?? "\(error)")")
        }
    }
}

/// The prepared statements of an import, one per table.
///
/// A large import does not insert its boxes into the R*Trees one by one: it collects them and,
/// at the end of the same transaction, rebuilds each tree whole with `RTreeBulkLoad` (from the
/// boxes the tree still holds plus the new ones). That is chosen per tree when the import adds
/// at least `bulkMinimum` boxes and at least a quarter of what the tree holds already, where a
/// rebuild costs less than the inserts.
private final class EntryWriter {
    static let bulkMinimum = 1000

    let db: Database
    let insertEntry: RawStatement
    let insertAttribute: RawStatement
    /// `attributeRows` attribute rows in one statement (fewer statement runs).
    let insertAttributes: RawStatement
    static let attributeRows = 64
    let insertText: RawStatement
    let insertPlace: RawStatement
    let insertSpan: RawStatement
    let findEntry: Statement
    var place: RTreeBulkLoad?
    var span: RTreeBulkLoad?
    /// Scratch bytes for the JSON and tag text of one entry.
    var buffer: [UInt8] = []
    /// The attribute rows of the import, key → value → rowids (ascending), written at the end in
    /// the table's own order (key, value, entry), so that each insert appends to the B-tree:
    /// about 7× cheaper than inserting them in entry order.
    var attributes: [String: [String: [Int64]]] = [:]

    init(_ db: Database, adding entries: [CatalogEntry]) throws {
        self.db = db
        insertEntry = try RawStatement(
            db,
            """
            INSERT INTO entries (world, id, kind, name, tags, attributes, start_us, end_us, x, y, z)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertAttribute = try RawStatement(db, "INSERT INTO attributes (key, value, entry) VALUES (?, ?, ?)")
        insertAttributes = try RawStatement(
            db,
            "INSERT INTO attributes (key, value, entry) VALUES "
                + Array(repeating: "(?, ?, ?)", count: Self.attributeRows).joined(separator: ", "))
        insertText = try RawStatement(db, "INSERT INTO entry_text (rowid, name, tags) VALUES (?, ?, ?)")
        insertPlace = try RawStatement(db, "INSERT INTO entry_place VALUES (?, ?, ?, ?, ?)")
        insertSpan = try RawStatement(db, "INSERT INTO entry_span VALUES (?, ?, ?)")
        findEntry = try db.makeStatement(sql: "SELECT entry, name, tags, attributes FROM entries WHERE id = ? AND world = ?")
        func bulk(_ table: String, dimensions: Int, adding: Int) throws -> RTreeBulkLoad? {
            guard adding >= Self.bulkMinimum else { return nil }
            let held = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)_rowid") ?? 0
            guard adding >= held / 4 else { return nil }
            var tree = RTreeBulkLoad(table: table, dimensions: dimensions)
            tree.rowids.reserveCapacity(adding)
            tree.bounds.reserveCapacity(adding * 2 * dimensions)
            return tree
        }
        place = try bulk("entry_place", dimensions: 2, adding: entries.count { $0.location != nil })
        span = try bulk("entry_span", dimensions: 1, adding: entries.count { $0.hasTime })
    }

    func insert(_ entry: CatalogEntry, world: String) throws {
        insertEntry.bind(1, world)
        insertEntry.bind(2, entry.id)
        insertEntry.bind(3, entry.kind)
        insertEntry.bind(4, entry.name)
        buffer.removeAll(keepingCapacity: true)
        CatalogSchema.appendJSON(entry.tags, to: &buffer)
        insertEntry.bind(5, utf8: buffer)
        buffer.removeAll(keepingCapacity: true)
        CatalogSchema.appendJSON(entry.attributes, to: &buffer)
        insertEntry.bind(6, utf8: buffer)
        insertEntry.bind(7, entry.start?.microseconds)
        insertEntry.bind(8, entry.end?.microseconds)
        insertEntry.bind(9, entry.location?.x)
        insertEntry.bind(10, entry.location?.y)
        insertEntry.bind(11, entry.location?.z)
        try insertEntry.run()
        let rowid = db.lastInsertedRowID
        for (key, value) in entry.attributes {
            attributes[key, default: [:]][value, default: []].append(rowid)
        }
        insertText.bind(1, rowid)
        insertText.bind(2, entry.name)
        buffer.removeAll(keepingCapacity: true)
        CatalogSchema.appendTagText(entry.tags, to: &buffer)
        insertText.bind(3, utf8: buffer)
        try insertText.run()
        if let location = entry.location {
            let minX = OutwardRounding.floatBelow(location.x)
            let maxX = OutwardRounding.floatAbove(location.x)
            let minY = OutwardRounding.floatBelow(location.y)
            let maxY = OutwardRounding.floatAbove(location.y)
            if place != nil {
                place!.append(rowid, minX, maxX, minY, maxY)
            } else {
                insertPlace.bind(1, rowid)
                insertPlace.bind(2, Double(minX))
                insertPlace.bind(3, Double(maxX))
                insertPlace.bind(4, Double(minY))
                insertPlace.bind(5, Double(maxY))
                try insertPlace.run()
            }
        }
        if entry.hasTime {
            let low = entry.start.map { OutwardRounding.floatBelow($0.microseconds) } ?? -Float.greatestFiniteMagnitude
            let high = entry.end.map { OutwardRounding.floatAbove($0.microseconds) } ?? Float.greatestFiniteMagnitude
            if span != nil {
                span!.append(rowid, low, high)
            } else {
                insertSpan.bind(1, rowid)
                insertSpan.bind(2, Double(low))
                insertSpan.bind(3, Double(high))
                try insertSpan.run()
            }
        }
    }

    /// Rebuilds the trees whose boxes were collected (with the boxes they still hold).
    func finish() throws {
        func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        for key in attributes.keys.sorted(by: precedes) {
            let values = attributes[key]!
            for value in values.keys.sorted(by: precedes) {
                let rowids = values[value]!
                var next = 0
                while rowids.count - next >= Self.attributeRows {
                    for row in 0..<Self.attributeRows {
                        let first = Int32(3 * row + 1)
                        insertAttributes.bind(first, key)
                        insertAttributes.bind(first + 1, value)
                        insertAttributes.bind(first + 2, rowids[next + row])
                    }
                    try insertAttributes.run()
                    next += Self.attributeRows
                }
                for rowid in rowids[next...] {
                    insertAttribute.bind(1, key)
                    insertAttribute.bind(2, value)
                    insertAttribute.bind(3, rowid)
                    try insertAttribute.run()
                }
            }
        }
        attributes = [:]
        for tree in [place, span].compactMap({ $0 }) {
            var all = RTreeBulkLoad(table: tree.table, dimensions: tree.dimensions)
            try all.appendExisting(db)
            all.rowids.append(contentsOf: tree.rowids)
            all.bounds.append(contentsOf: tree.bounds)
            try all.write(db)
        }
        place = nil
        span = nil
    }

    /// Removes the entry (world, id) from every table, if it is there.
    func delete(world: String, id: String) throws {
        guard let row = try Row.fetchOne(findEntry, arguments: [id, world]) else { return }
        let rowid: Int64 = row[0]
        let tags = try JSONDecoder().decode([String].self, from: Data((row[2] as String).utf8))
        let attributes = try JSONDecoder().decode([String: String].self, from: Data((row[3] as String).utf8))
        // A contentless FTS5 table forgets a row only when told its indexed text again.
        try db.execute(
            sql: "INSERT INTO entry_text (entry_text, rowid, name, tags) VALUES ('delete', ?, ?, ?)",
            arguments: [rowid, row[1] as String, CatalogSchema.tagText(tags)])
        for (key, value) in attributes {
            try db.execute(sql: "DELETE FROM attributes WHERE key = ? AND value = ? AND entry = ?", arguments: [key, value, rowid])
        }
        try db.execute(sql: "DELETE FROM entry_place WHERE entry = ?", arguments: [rowid])
        try db.execute(sql: "DELETE FROM entry_span WHERE entry = ?", arguments: [rowid])
        try db.execute(sql: "DELETE FROM entries WHERE entry = ?", arguments: [rowid])
    }
}
