import Foundation
import GRDB

/// The tables of a catalog file, and the row form of an entry.
///
/// - `entries`: one row per (world, id): the entry's fields, tags as a JSON array, attributes as
///   a JSON object, instants as Int64 microseconds since 1970 (UTC), coordinates as doubles.
///   Indexes: unique (id, world), which also orders results; (kind, id, world).
/// - `attributes` (key, value, entry): one row per attribute, keyed for `--where` lookups.
/// - `entry_text`: FTS5, `unicode61`, over name and tags (tags one per line); contentless, so a
///   replaced entry is removed with FTS5's `delete` command and its old name and tags.
/// - `entry_place`: R*Tree over (x, y) of located entries; z is checked exactly on candidates.
/// - `entry_span`: one-dimensional R*Tree over [start, end] of entries with a time, an absent
///   side stored as the largest float of that sign (open-ended).
/// R*Tree boxes are rounded outward to floats (`OutwardRounding`).
enum CatalogSchema {
    static let format = "fedshare-catalog-1"

    static func create(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE catalog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO catalog_meta VALUES ('format', '\(format)');
                CREATE TABLE entries (
                    entry INTEGER PRIMARY KEY,
                    world TEXT NOT NULL,
                    id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    attributes TEXT NOT NULL,
                    start_us INTEGER,
                    end_us INTEGER,
                    x REAL, y REAL, z REAL);
                CREATE UNIQUE INDEX entries_id ON entries(id, world);
                CREATE INDEX entries_kind ON entries(kind, id, world);
                \(attributes);
                \(textIndex);
                \(placeIndex);
                \(spanIndex);
                """)
    }

    // The definitions of the tables; a first import (`FirstImport`) also builds `entry_text` in a
    // side database and copies it in: the same definition there makes the same shadow tables.

    static let attributes = """
        CREATE TABLE attributes (
            key TEXT NOT NULL, value TEXT NOT NULL, entry INTEGER NOT NULL,
            PRIMARY KEY (key, value, entry)) WITHOUT ROWID
        """
    static let textIndex = "CREATE VIRTUAL TABLE entry_text USING fts5(name, tags, content = '', tokenize = 'unicode61')"
    static let placeIndex = "CREATE VIRTUAL TABLE entry_place USING rtree(entry, min_x, max_x, min_y, max_y)"
    static let spanIndex = "CREATE VIRTUAL TABLE entry_span USING rtree(entry, lo, hi)"

    /// The shadow tables FTS5 keeps the index of `entry_text` in, all but `entry_text_config`
    /// (its settings, written by `CREATE` alike in any database).
    static let textIndexTables = ["entry_text_data", "entry_text_idx", "entry_text_docsize"]

    static func isCatalog(_ db: Database) throws -> Bool {
        guard try db.tableExists("catalog_meta") else { return false }
        return try String.fetchOne(db, sql: "SELECT value FROM catalog_meta WHERE key = 'format'") == format
    }

    /// The columns `search` and `export` read, in the order `entry(from:)` expects.
    static let entryColumns = "e.world, e.id, e.kind, e.name, e.tags, e.attributes, e.start_us, e.end_us, e.x, e.y, e.z"

    static func entry(from row: Row) throws -> (world: String, entry: CatalogEntry) {
        let tags = try JSONDecoder().decode([String].self, from: Data((row[4] as String).utf8))
        let attributes = try JSONDecoder().decode([String: String].self, from: Data((row[5] as String).utf8))
        var entry = CatalogEntry(id: row[1], kind: row[2], name: row[3], tags: tags, attributes: attributes)
        entry.start = (row[6] as Int64?).map(Instant.init(microseconds:))
        entry.end = (row[7] as Int64?).map(Instant.init(microseconds:))
        if let x = row[8] as Double?, let y = row[9] as Double? { entry.location = Location(x: x, y: y, z: row[10]) }
        return (row[0], entry)
    }

    /// The text FTS5 indexes for the tags column (and must be given again to delete it).
    static func tagText(_ tags: [String]) -> String { tags.joined(separator: "\n") }

    /// Appends a JSON string literal to `output` as UTF-8 (quotes, backslashes and control
    /// characters escaped; `\n`, `\r`, `\t` by name, others as `\u00xx`; everything else as is).
    static func appendJSONString(_ text: String, to output: inout [UInt8]) {
        output.append(0x22)
        defer { output.append(0x22) }
        // Most text needs no escape: then its bytes go in whole.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
            output.append(contentsOf: text.utf8)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 0x22:
                output.append(0x5C)
                output.append(0x22)
            case 0x5C:
                output.append(0x5C)
                output.append(0x5C)
            case 0x0A:
                output.append(0x5C)
                output.append(0x6E)
            case 0x0D:
                output.append(0x5C)
                output.append(0x72)
            case 0x09:
                output.append(0x5C)
                output.append(0x74)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: output.append(byte)
            }
        }
    }

    /// The tags as a JSON array of strings, appended to `output` as UTF-8.
    static func appendJSON(_ tags: [String], to output: inout [UInt8]) {
        output.append(0x5B)
        for (index, tag) in tags.enumerated() {
            if index > 0 { output.append(0x2C) }
            appendJSONString(tag, to: &output)
        }
        output.append(0x5D)
    }

    /// The attributes as a JSON object (keys in ascending order), appended to `output` as UTF-8.
    static func appendJSON(_ attributes: [String: String], to output: inout [UInt8]) {
        output.append(0x7B)
        func member(_ key: String, _ value: String) {
            appendJSONString(key, to: &output)
            output.append(0x3A)
            appendJSONString(value, to: &output)
        }
        if attributes.count == 1, let (key, value) = attributes.first {
            member(key, value)  // no array to sort
        } else {
            for (index, (key, value)) in attributes.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { output.append(0x2C) }
                member(key, value)
            }
        }
        output.append(0x7D)
    }

    static func json(_ tags: [String]) -> String {
        var output: [UInt8] = []
        appendJSON(tags, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    static func json(_ attributes: [String: String]) -> String {
        var output: [UInt8] = []
        appendJSON(attributes, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// The tag text (`tagText`) appended to `output` as UTF-8.
    static func appendTagText(_ tags: [String], to output: inout [UInt8]) {
        for (index, tag) in tags.enumerated() {
            if index > 0 { output.append(0x0A) }
            output.append(contentsOf: tag.utf8)
        }
    }
}
