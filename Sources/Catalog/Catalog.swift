import Foundation
import GRDB

/// A catalog file: the public metadata of one world (a party's own catalog, world
/// `Catalog.localWorld`) or of many (a federation directory, every entry tagged with its world),
/// indexed for text, attribute, time and place queries (see `CatalogSchema`).
///
/// Imports run in one transaction each: all of a batch or none of it. Reading opens the file
/// read-only and never creates it.
public final class Catalog: Sendable {
    /// The world name of the entries in a party's own catalog.
    public static let localWorld = "local"

    /// How a catalog file is opened.
    public enum Access: Sendable, Equatable {
        /// Read and write, creating the file (never its folder) and the schema if missing.
        case create
        /// Read an existing catalog and never write to it; a missing file is refused.
        case readOnly
    }

    public let path: String
    let queue: DatabaseQueue
    let tokenizer: TextTokenizer

    /// Opens the catalog at `path`.
    /// - Throws: `CatalogError.noCatalog` when reading a file that does not exist;
    ///   `.storage` when the file cannot be opened or is not a catalog.
    public init(path: String, access: Access) throws {
        self.path = path
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        if isFolder.boolValue { throw CatalogError.storage(path: path, reason: "is a folder, not a catalog file") }
        if access == .readOnly, !exists { throw CatalogError.noCatalog(path: path) }
        var configuration = Configuration()
        configuration.readonly = access == .readOnly
        configuration.busyMode = .timeout(60)
        configuration.prepareDatabase { db in
            // A bulk import touches every index: a large page cache keeps them in memory.
            try db.execute(sql: "PRAGMA cache_size = -262144")
            if access == .create { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                if try CatalogSchema.isCatalog(db) { return }
                let empty = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") == 0
                guard access == .create, empty else {
                    throw CatalogError.storage(path: path, reason: "not a fedshare catalog")
                }
                try db.inTransaction(.immediate) {
                    try CatalogSchema.create(db)
                    return .commit
                }
            }
        } catch let error as CatalogError {
            throw error
        } catch let error as DatabaseError {
            throw CatalogError.storage(path: path, reason: "cannot open the catalog: \(error.message ?? "\(error)")")
        }
        tokenizer = try TextTokenizer()
    }

    // MARK: Reading

    /// What the catalog holds.
    public struct Stats: Sendable, Codable, Equatable {
        public var entries: Int
        /// Entries per world.
        public var worlds: [String: Int]
        /// Entries per kind.
        public var kinds: [String: Int]
        /// Entries with a start or an end.
        public var withTime: Int
        /// Entries with a location; `withHeight` of them have a z.
        public var withLocation: Int
        public var withHeight: Int
        /// Entries carrying each attribute.
        public var attributes: [String: Int]
        /// Bytes of the catalog file.
        public var fileBytes: Int64
    }

    public func stats() throws -> Stats {
        try read { db in
            func counts(_ sql: String) throws -> [String: Int] {
                Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: sql).map { ($0[0] as String, $0[1] as Int) })
            }
            let totals = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*), count(start_us) + count(end_us) - count(start_us + end_us), count(x), count(z) FROM entries
                    """)!
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return Stats(
                entries: totals[0], worlds: try counts("SELECT world, count(*) FROM entries GROUP BY world"),
                kinds: try counts("SELECT kind, count(*) FROM entries GROUP BY kind"),
                withTime: totals[1], withLocation: totals[2], withHeight: totals[3],
                attributes: try counts("SELECT key, count(*) FROM attributes GROUP BY key"), fileBytes: size)
        }
    }

    /// Every entry of `world`, ordered by id.
    public func entries(world: String = Catalog.localWorld) throws -> [CatalogEntry] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(CatalogSchema.entryColumns) FROM entries e WHERE e.world = ? ORDER BY e.id",
                arguments: [world]
            ).map { try CatalogSchema.entry(from: $0).entry }
        }
    }

    /// The canonical, deterministic encoding of the entries of `world` (or of those `query`
    /// selects in it): JSON Lines, one canonical object per entry (`CatalogEntry.canonicalJSON`),
    /// ordered by the id's UTF-8 bytes, each line ending in `\n`. The same entries always give
    /// the same bytes, which is what a publishing party signs; `EntryFile` reads them back.
    public func export(world: String = Catalog.localWorld, matching query: CatalogQuery? = nil) throws -> Data {
        var selected: [CatalogEntry]
        if var query {
            query.limit = 0
            selected = try search(query).filter { $0.world == world }.map(\.entry)
        } else {
            selected = try entries(world: world)
        }
        return try Self.canonicalJSONLines(selected)
    }

    /// Entries as canonical JSON Lines, ordered by the id's UTF-8 bytes.
    public static func canonicalJSONLines(_ entries: [CatalogEntry]) throws -> Data {
        var output = Data()
        let encoder = CanonicalJSON.encoder
        for entry in entries.sorted(by: { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }) {
            output.append(try encoder.encode(entry))
            output.append(10)
        }
        return output
    }

    /// Runs `body` on the connection, mapping SQLite failures to `CatalogError.storage`.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try queue.read(body) } catch let error as DatabaseError {
            throw CatalogError.storage(path: path, reason: error.message ?? "\(error)")
        }
    }
}
