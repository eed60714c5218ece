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
            let writer = try EntryWriter(db)
            for entry in entries {
                if worldHasEntries { try writer.delete(world: world, id: entry.id) }
                try writer.insert(entry, world: world)
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
        let writer = try EntryWriter(db)
        for id in try String.fetchAll(db, sql: "SELECT id FROM entries WHERE world = ?", arguments: [world]) {
            try writer.delete(world: world, id: id)
        }
        for entry in entries { try writer.insert(entry, world: world) }
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
private struct EntryWriter {
    let db: Database
    let insertEntry: Statement
    let insertAttribute: Statement
    let insertText: Statement
    let insertPlace: Statement
    let insertSpan: Statement
    let findEntry: Statement

    init(_ db: Database) throws {
        self.db = db
        insertEntry = try db.makeStatement(sql: """
            INSERT INTO entries (world, id, kind, name, tags, attributes, start_us, end_us, x, y, z)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertAttribute = try db.makeStatement(sql: "INSERT INTO attributes (key, value, entry) VALUES (?, ?, ?)")
        insertText = try db.makeStatement(sql: "INSERT INTO entry_text (rowid, name, tags) VALUES (?, ?, ?)")
        insertPlace = try db.makeStatement(sql: "INSERT INTO entry_place VALUES (?, ?, ?, ?, ?)")
        insertSpan = try db.makeStatement(sql: "INSERT INTO entry_span VALUES (?, ?, ?)")
        findEntry = try db.makeStatement(sql: "SELECT entry, name, tags, attributes FROM entries WHERE id = ? AND world = ?")
    }

    func insert(_ entry: CatalogEntry, world: String) throws {
        try insertEntry.execute(arguments: [
            world, entry.id, entry.kind, entry.name, CatalogSchema.json(entry.tags), CatalogSchema.json(entry.attributes),
            entry.start?.microseconds, entry.end?.microseconds, entry.location?.x, entry.location?.y, entry.location?.z,
        ])
        let rowid = db.lastInsertedRowID
        for (key, value) in entry.attributes {
            try insertAttribute.execute(arguments: [key, value, rowid])
        }
        try insertText.execute(arguments: [rowid, entry.name, CatalogSchema.tagText(entry.tags)])
        if let location = entry.location {
            try insertPlace.execute(arguments: [
                rowid,
                OutwardRounding.floatBelow(location.x), OutwardRounding.floatAbove(location.x),
                OutwardRounding.floatBelow(location.y), OutwardRounding.floatAbove(location.y),
            ])
        }
        if entry.hasTime {
            let low = entry.start.map { OutwardRounding.floatBelow($0.microseconds) } ?? -Float.greatestFiniteMagnitude
            let high = entry.end.map { OutwardRounding.floatAbove($0.microseconds) } ?? Float.greatestFiniteMagnitude
            try insertSpan.execute(arguments: [rowid, low, high])
        }
    }

    /// Removes the entry (world, id) from every table, if it is there.
    func delete(world: String, id: String) throws {
        guard let row = try Row.fetchOne(findEntry, arguments: [id, world]) else { return }
        let rowid: Int64 = row[0]
        let tags = try JSONDecoder().decode([String].self, from: Data((row[2] as String).utf8))
        let attributes = try JSONDecoder().decode([String: String].self, from: Data((row[3] as String).utf8))
        // A contentless FTS5 table forgets a row only when told its indexed text again.
        try db.execute(sql: "INSERT INTO entry_text (entry_text, rowid, name, tags) VALUES ('delete', ?, ?, ?)",
                       arguments: [rowid, row[1] as String, CatalogSchema.tagText(tags)])
        for (key, value) in attributes {
            try db.execute(sql: "DELETE FROM attributes WHERE key = ? AND value = ? AND entry = ?", arguments: [key, value, rowid])
        }
        try db.execute(sql: "DELETE FROM entry_place WHERE entry = ?", arguments: [rowid])
        try db.execute(sql: "DELETE FROM entry_span WHERE entry = ?", arguments: [rowid])
        try db.execute(sql: "DELETE FROM entries WHERE entry = ?", arguments: [rowid])
    }
}
