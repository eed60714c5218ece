import Foundation
import GRDB

extension Catalog {
    /// Adds `entries` to `world`, replacing any entry of that world with the same id (in every
    /// table), all in one transaction: either every entry is in or none is.
    /// - Throws: `CatalogError.invalidEntry` (file "entries", line = position + 1) for an invalid
    ///   entry or an id given twice; `.storage` when the write fails.
    /// - Complexity: O(n log N); one prepared statement per table. A first import (at least
    ///   1000 entries into an empty catalog) builds the full-text index and the R*Trees on two
    ///   more threads (`FirstImport`; `prepareSQLiteForParallelImports()` lets them run at once).
    public func importEntries(_ entries: [CatalogEntry], world: String = Catalog.localWorld) throws {
        try Self.check(entries)
        try write { db in
            try insert(entries, into: world, db) { writer in
                let worldHasEntries =
                    try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM entries WHERE world = ?)", arguments: [world]) ?? false
                if worldHasEntries {
                    for entry in entries { try writer.delete(world: world, id: entry.id) }
                }
            }
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
        try insert(entries, into: world, db) { writer in
            for id in try String.fetchAll(db, sql: "SELECT id FROM entries WHERE world = ?", arguments: [world]) {
                try writer.delete(world: world, id: id)
            }
        }
    }

    /// Within a transaction: `removing` deletes what the entries replace, then `entries` are
    /// written into `world`. Into an empty catalog (nothing to remove) a large batch is a first
    /// import (`FirstImport`).
    private func insert(_ entries: [CatalogEntry], into world: String, _ db: Database, removing: (EntryWriter) throws -> Void) throws {
        if try FirstImport.applies(to: entries, db) {
            try FirstImport(entries: entries, world: world, catalogPath: path).run(db)
            return
        }
        let writer = try EntryWriter(db, adding: entries)
        try removing(writer)
        try writer.insert(entries, world: world)
        try writer.finish()
    }

    /// Removes `world` and all its entries.
    public func removeWorld(_ world: String) throws { try replaceWorld(world, with: []) }

    static func check(_ entries: [CatalogEntry]) throws {
        try EntryFile.check(entries, file: "entries") { $0 + 1 }
    }

    func write(_ body: (Database) throws -> Void) throws {
        var committed = false
        do {
            try queue.writeWithoutTransaction { db in
                // A first import's side database can be detached only outside the transaction.
                do {
                    try db.inTransaction(.immediate) {
                        try body(db)
                        return .commit
                    }
                } catch {
                    try FirstImport.detachSideDatabase(db)
                    throw error
                }
                committed = true
                try FirstImport.detachSideDatabase(db)
            }
        } catch let error as DatabaseError {
            let reason = committed ? "imported, but its side database cannot be detached" : "import failed, nothing imported"
            throw CatalogError.storage(path: path, reason: "\(reason): \(error.message ?? "\(error)")")
        }
    }
}

/// The prepared statements of an import, one per table.
///
/// A first import (`FirstImport`) builds the full-text index and the R*Trees elsewhere; its
/// writer is made with the rowid of its first entry, gives the entries consecutive rowids from
/// there, and writes only `entries` and `attributes`.
///
/// A large import does not insert its boxes into the R*Trees one by one: it collects them and,
/// at the end of the same transaction, rebuilds each tree whole with `RTreeBulkLoad` (from the
/// boxes the tree still holds plus the new ones). That is chosen per tree when the import adds
/// at least `bulkMinimum` boxes and at least a quarter of what the tree holds already, where a
/// rebuild costs less than the inserts.
final class EntryWriter {
    static let bulkMinimum = 1000

    let db: Database
    let insertEntry: RawStatement
    let insertText: RawStatement
    let insertPlace: RawStatement
    let insertSpan: RawStatement
    let findEntry: Statement
    var place: RTreeBulkLoad?
    var span: RTreeBulkLoad?
    /// The rowid of the next entry, when the other indexes are built elsewhere.
    var nextRowid: Int64?
    /// Scratch bytes: the text of one entry's row, and its tag text.
    var row: [UInt8] = []
    var buffer: [UInt8] = []
    /// The attribute rows of the import, written at the end.
    var attributes = AttributeRows()

    /// - Parameter firstRowid: given, the entries get rowids from there on and only `entries`
    ///   and `attributes` are written.
    init(_ db: Database, adding entries: [CatalogEntry], firstRowid: Int64? = nil) throws {
        self.db = db
        nextRowid = firstRowid
        insertEntry = try RawStatement(
            db,
            """
            INSERT INTO entries (world, id, kind, name, tags, attributes, start_us, end_us, x, y, z, entry)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
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
        guard firstRowid == nil else { return }
        place = try bulk("entry_place", dimensions: 2, adding: entries.count { $0.location != nil })
        span = try bulk("entry_span", dimensions: 1, adding: entries.count { $0.hasTime })
    }

    /// Inserts every entry, in order, into `world`.
    func insert(_ entries: [CatalogEntry], world: String) throws {
        insertEntry.bind(1, world)  // bound values stay bound from row to row
        // Through the buffer, each entry is borrowed where the array's iterator would copy it.
        try entries.withUnsafeBufferPointer { entries in
            for index in entries.indices { try insert(entries[index]) }
        }
    }

    private func insert(_ entry: CatalogEntry) throws {
        // The row's text, one after the other in `row`, bound where it lies (SQLite copies
        // nothing): id, kind, name, tags as JSON, attributes as JSON.
        row.removeAll(keepingCapacity: true)
        row.append(contentsOf: entry.id.utf8)
        let idEnd = row.count
        row.append(contentsOf: entry.kind.utf8)
        let kindEnd = row.count
        row.append(contentsOf: entry.name.utf8)
        let nameEnd = row.count
        CatalogSchema.appendJSON(entry.tags, to: &row)
        let tagsEnd = row.count
        CatalogSchema.appendJSON(entry.attributes, to: &row)
        try row.withUnsafeBufferPointer { row in
            insertEntry.bind(2, borrowedUTF8: .init(rebasing: row[..<idEnd]))
            insertEntry.bind(3, borrowedUTF8: .init(rebasing: row[idEnd..<kindEnd]))
            insertEntry.bind(4, borrowedUTF8: .init(rebasing: row[kindEnd..<nameEnd]))
            insertEntry.bind(5, borrowedUTF8: .init(rebasing: row[nameEnd..<tagsEnd]))
            insertEntry.bind(6, borrowedUTF8: .init(rebasing: row[tagsEnd...]))
            insertEntry.bind(7, entry.start?.microseconds)
            insertEntry.bind(8, entry.end?.microseconds)
            insertEntry.bind(9, entry.location?.x)
            insertEntry.bind(10, entry.location?.y)
            insertEntry.bind(11, entry.location?.z)
            insertEntry.bind(12, nextRowid)
            try insertEntry.run()
        }
        if let next = nextRowid {
            nextRowid = next + 1
            return
        }
        let rowid = db.lastInsertedRowID
        attributes.add(entry.attributes, rowid: rowid)
        insertText.bind(1, rowid)
        insertText.bind(2, entry.name)
        buffer.removeAll(keepingCapacity: true)
        CatalogSchema.appendTagText(entry.tags, to: &buffer)
        insertText.bind(3, utf8: buffer)
        try insertText.run()
        if let (minX, maxX, minY, maxY) = entry.placeBox {
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
        if let (low, high) = entry.spanBox {
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

    /// Writes the attribute rows, then rebuilds the trees whose boxes were collected (with the
    /// boxes they still hold).
    func finish() throws {
        try attributes.write(db)
        attributes = AttributeRows()
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

/// The attribute rows of an import, gathered key → value → rowids (ascending) and written at
/// the end in the table's own order (key, value, entry), so that each insert appends to the
/// B-tree: about 7× cheaper than inserting them in entry order.
struct AttributeRows: Sendable {
    var rowids: [String: [String: [Int64]]] = [:]

    /// Adds a row per attribute of the entry with `rowid` (rowids must come ascending).
    mutating func add(_ attributes: [String: String], rowid: Int64) {
        for (key, value) in attributes {
            rowids[key, default: [:]][value, default: []].append(rowid)
        }
    }

    /// Writes the rows into `attributes` (in `db`), in the table's order, `rowsPerInsert` a
    /// statement (fewer statement runs).
    func write(_ db: Database) throws {
        let rowsPerInsert = 64
        let insertOne = try RawStatement(db, "INSERT INTO attributes (key, value, entry) VALUES (?, ?, ?)")
        let insertMany = try RawStatement(
            db,
            "INSERT INTO attributes (key, value, entry) VALUES "
                + Array(repeating: "(?, ?, ?)", count: rowsPerInsert).joined(separator: ", "))
        for (key, value, rowids) in sorted() {
            // Every row of a (key, value) binds the same bytes, where they lie (not copied).
            try Array(key.utf8).withUnsafeBufferPointer { key in
                try Array(value.utf8).withUnsafeBufferPointer { value in
                    var next = 0
                    while rowids.count - next >= rowsPerInsert {
                        for row in 0..<rowsPerInsert {
                            let first = Int32(3 * row + 1)
                            insertMany.bind(first, borrowedUTF8: key)
                            insertMany.bind(first + 1, borrowedUTF8: value)
                            insertMany.bind(first + 2, rowids[next + row])
                        }
                        try insertMany.run()
                        next += rowsPerInsert
                    }
                    for rowid in rowids[next...] {
                        insertOne.bind(1, borrowedUTF8: key)
                        insertOne.bind(2, borrowedUTF8: value)
                        insertOne.bind(3, rowid)
                        try insertOne.run()
                    }
                }
            }
        }
    }

    /// (key, value, rowids) in the table's order: keys, then values, by their UTF-8 bytes.
    func sorted() -> [(key: String, value: String, rowids: [Int64])] {
        func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        var rows: [(key: String, value: String, rowids: [Int64])] = []
        for key in rowids.keys.sorted(by: precedes) {
            let values = rowids[key]!
            for value in values.keys.sorted(by: precedes) { rows.append((key, value, values[value]!)) }
        }
        return rows
    }
}

extension CatalogEntry {
    /// The entry's box in `entry_place`, rounded outward: (min x, max x, min y, max y).
    var placeBox: (Float, Float, Float, Float)? {
        guard let location else { return nil }
        return (
            OutwardRounding.floatBelow(location.x), OutwardRounding.floatAbove(location.x),
            OutwardRounding.floatBelow(location.y), OutwardRounding.floatAbove(location.y)
        )
    }

    /// The entry's interval in `entry_span`, rounded outward, an absent side open.
    var spanBox: (Float, Float)? {
        guard hasTime else { return nil }
        return (
            start.map { OutwardRounding.floatBelow($0.microseconds) } ?? -Float.greatestFiniteMagnitude,
            end.map { OutwardRounding.floatAbove($0.microseconds) } ?? Float.greatestFiniteMagnitude
        )
    }
}
