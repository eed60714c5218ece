import CSQLite

extension Catalog {
    /// Lets SQLite connections on different threads allocate memory without sharing a lock, for
    /// the rest of the process, by turning off SQLite's memory statistics (nothing here reads
    /// them). A first import builds its full-text index on a second connection while the first
    /// writes the entries; with the statistics on, every allocation of either takes one global
    /// lock and the two mostly take turns (two FTS5 builds at once, 200,000 rows each: 1.7× the
    /// time of one, against 1.0× with the statistics off).
    ///
    /// SQLite's rule for `sqlite3_config` applies: call this at process start, before any
    /// connection is opened and while no other thread uses SQLite.
    /// - Returns: whether the setting took; false once SQLite is in use, and then nothing
    ///   changes (imports are as correct, only slower).
    @discardableResult
    public static func prepareSQLiteForParallelImports() -> Bool {
        fs_sqlite3_disable_memory_statistics() == SQLITE_OK
    }
}
