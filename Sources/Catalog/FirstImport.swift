import Foundation
import GRDB

/// A large import into an empty catalog, its indexes built on two other threads.
///
/// When the catalog holds no entry (a first import, the common bulk case), every table starts
/// empty and every rowid is known before anything is written (1, 2, … in batch order), so the
/// work splits three ways:
/// - this connection writes `entries` (`EntryWriter` with a first rowid);
/// - a second thread builds the full-text index alone in a side database file next to the
///   catalog, with the same definition (`CatalogSchema.textIndex`) and the same rowids;
/// - a third gathers the attribute rows and packs both R*Trees (`RTreeBulkLoad`), in memory;
///   this connection writes them once it has written the entries.
///
/// Last, still in the import's transaction, the side database is attached and the full-text
/// table made anew, empty, and given the side database's shadow tables whole (an
/// `INSERT … SELECT *` between tables of the same definition, which SQLite transfers record by
/// record). Making the table anew keeps this correct: FTS5 caches an index's structure per
/// connection and checks it only against other connections' writes, so this connection must
/// not keep a table whose shadow tables change under it. (The R*Tree module reads its shadow
/// tables afresh, as `RTreeBulkLoad` already relies on.)
///
/// A failure anywhere (this connection, either thread, the copy, the commit) stops the threads,
/// waits for them and rolls the transaction back: nothing is imported, and the side file is
/// removed (by `Catalog.write`, once detached).
struct FirstImport {
    /// Fewer entries go the ordinary way: threads and a side file cost more than they save.
    static let minimum = 1000
    /// The name the side database is attached under while its tables are copied.
    static let textSchema = "first_import_text"

    let entries: [CatalogEntry]
    let world: String
    let catalogPath: String

    /// Whether `entries` can be imported this way: enough of them, into a catalog whose every
    /// table is empty (each entry has a row in `entries` and one in `entry_text_docsize`).
    static func applies(to entries: [CatalogEntry], _ db: Database) throws -> Bool {
        guard entries.count >= minimum else { return false }
        return try Bool.fetchOne(
            db, sql: "SELECT NOT EXISTS (SELECT 1 FROM entries) AND NOT EXISTS (SELECT 1 FROM entry_text_docsize)") ?? false
    }

    /// Imports the entries, in the caller's transaction.
    func run(_ db: Database) throws {
        let firstRowid: Int64 = 1
        let textPath = "\(catalogPath)-text-\(UUID().uuidString)"
        let entries = self.entries
        let text = WorkerThread.start("catalog full-text index") { shouldStop in
            try Self.buildTextIndex(entries, firstRowid: firstRowid, path: textPath, shouldStop: shouldStop)
        }
        var others: WorkerThread<OtherTables>?
        var attached = false
        do {
            let placeBytes = try RTreeBulkLoad.nodeBytes(of: "entry_place", db)
            let spanBytes = try RTreeBulkLoad.nodeBytes(of: "entry_span", db)
            others = WorkerThread.start("catalog attributes and R*Trees") { shouldStop in
                try Self.otherTables(entries, firstRowid: firstRowid, placeNodeBytes: placeBytes, spanNodeBytes: spanBytes, shouldStop: shouldStop)
            }
            try EntryWriter(db, adding: entries, firstRowid: firstRowid).insert(entries, world: world)
            let tables = try others!.value()
            try tables.attributes.write(db)
            for tree in tables.trees { try tree.write(db) }
            try text.value()
            try db.execute(sql: "ATTACH DATABASE ? AS \(Self.textSchema)", arguments: [textPath])
            attached = true  // from here on, `Catalog.write` detaches and removes the file
            try db.execute(sql: "DROP TABLE entry_text")
            try db.execute(sql: CatalogSchema.textIndex)
            for table in CatalogSchema.textIndexTables {
                try db.execute(sql: "DELETE FROM main.\(table); INSERT INTO main.\(table) SELECT * FROM \(Self.textSchema).\(table)")
            }
        } catch {
            // Neither thread may outlive the import, nor the side file: stop and wait for both.
            text.stop()
            others?.stop()
            _ = try? text.value()
            _ = try? others?.value()
            if !attached { Self.removeSideFile(textPath) }
            throw error
        }
    }

    /// A new side database at `path`: a scratch file, read once and removed, so no journal and
    /// no syncing; a large page cache, as the main connection has.
    static func sideDatabase(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -131072")
        }
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Builds `entry_text` alone in a new database at `path`, entry `i` under rowid
    /// `firstRowid + i` with the text the ordinary import gives FTS5 (name; tags one per line).
    static func buildTextIndex(_ entries: [CatalogEntry], firstRowid: Int64, path: String, shouldStop: () -> Bool) throws {
        let queue = try sideDatabase(path)
        try queue.write { db in
            try db.execute(sql: CatalogSchema.textIndex)
            // A larger in-memory hash (1 MB by default) flushes fewer, larger segments: less
            // merging. A setting of this build only: `_config` is not copied, and the catalog's
            // FTS5 reloads its own settings when it sees the index's cookie changed.
            try db.execute(sql: "INSERT INTO entry_text (entry_text, rank) VALUES ('hashsize', 16777216)")
            let insert = try RawStatement(db, "INSERT INTO entry_text (rowid, name, tags) VALUES (?, ?, ?)")
            var tags: [UInt8] = []
            var rowid = firstRowid
            try entries.withUnsafeBufferPointer { entries in
                for index in entries.indices {
                    if index & 0xFFF == 0, shouldStop() { throw CancellationError() }
                    insert.bind(1, rowid)
                    insert.bind(2, entries[index].name)
                    tags.removeAll(keepingCapacity: true)
                    CatalogSchema.appendTagText(entries[index].tags, to: &tags)
                    insert.bind(3, utf8: tags)
                    try insert.run()
                    rowid += 1
                }
            }
        }
        try queue.close()
    }

    /// What a first import writes into `entries`' neighbours besides the full-text index.
    struct OtherTables: Sendable {
        var attributes = AttributeRows()
        var trees: [PackedRTree] = []
    }

    /// The attribute rows and both R*Trees (packed for nodes of the catalog's sizes) of
    /// `entries`, entry `i` under rowid `firstRowid + i`.
    static func otherTables(
        _ entries: [CatalogEntry], firstRowid: Int64, placeNodeBytes: Int, spanNodeBytes: Int, shouldStop: () -> Bool
    ) throws -> OtherTables {
        var tables = OtherTables()
        var place = RTreeBulkLoad(table: "entry_place", dimensions: 2)
        var span = RTreeBulkLoad(table: "entry_span", dimensions: 1)
        var rowid = firstRowid
        entries.withUnsafeBufferPointer { entries in
            for index in entries.indices {
                tables.attributes.add(entries[index].attributes, rowid: rowid)
                if let (minX, maxX, minY, maxY) = entries[index].placeBox { place.append(rowid, minX, maxX, minY, maxY) }
                if let (low, high) = entries[index].spanBox { span.append(rowid, low, high) }
                rowid += 1
            }
        }
        if shouldStop() { throw CancellationError() }
        tables.trees.append(try place.pack(nodeBytes: placeNodeBytes))
        if shouldStop() { throw CancellationError() }
        tables.trees.append(try span.pack(nodeBytes: spanNodeBytes))
        return tables
    }

    /// Detaches the side database of a first import, if one is attached, and removes its file;
    /// outside the import's transaction (SQLite detaches nothing inside one).
    static func detachSideDatabase(_ db: Database) throws {
        guard let file = try String.fetchOne(db, sql: "SELECT file FROM pragma_database_list WHERE name = ?", arguments: [textSchema]) else {
            return
        }
        try db.execute(sql: "DETACH DATABASE \(textSchema)")
        removeSideFile(file)
    }

    /// Removes a side file. A file that cannot be removed is left behind, named after the
    /// catalog: the catalog itself is complete (or untouched) either way.
    static func removeSideFile(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
