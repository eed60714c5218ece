import Foundation
import GRDB

extension Catalog {
    /// The version under which `world` was last replaced through
    /// ``replaceWorld(_:with:version:)``, or nil if never.
    public func version(of world: String) throws -> Int64? {
        try read { db in
            guard try db.tableExists("world_versions") else { return nil }
            return try Int64.fetchOne(db, sql: "SELECT version FROM world_versions WHERE world = ?", arguments: [world])
        }
    }

    /// Makes `entries` the whole of `world` under `version`, in one transaction with the check
    /// that `version` is newer than the one recorded: a federation directory refuses a replayed
    /// (older or equal) publication, and a reader sees the old world or the new, never a mix.
    /// - Throws: `CatalogError.staleVersion` (nothing changed) when `version` is not newer;
    ///   `.invalidEntry` for an invalid entry; `.storage` when the write fails.
    public func replaceWorld(_ world: String, with entries: [CatalogEntry], version: Int64) throws {
        try Self.check(entries)
        var stale: Int64?
        try write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS world_versions (world TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            if let held = try Int64.fetchOne(db, sql: "SELECT version FROM world_versions WHERE world = ?", arguments: [world]),
                held >= version
            {
                stale = held
                return
            }
            try replaceEntries(of: world, with: entries, db)
            try db.execute(sql: "INSERT OR REPLACE INTO world_versions (world, version) VALUES (?, ?)", arguments: [world, version])
        }
        if let stale { throw CatalogError.staleVersion(world: world, offered: version, held: stale) }
    }
}
