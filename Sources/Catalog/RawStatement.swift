import GRDB
import GRDBSQLite

/// A statement prepared and run through SQLite's C interface, for the hot loops of an import
/// (GRDB's `StatementArguments` box every value; binding directly is several times cheaper).
/// Used only inside a GRDB write transaction on the same connection; a failure is thrown as
/// GRDB's `DatabaseError`, so it rolls the transaction back like any other.
final class RawStatement {
    private let connection: OpaquePointer
    private let handle: OpaquePointer
    let sql: String

    init(_ db: Database, _ sql: String) throws {
        guard let connection = db.sqliteConnection else { throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "connection closed") }
        var handle: OpaquePointer?
        let code = sqlite3_prepare_v2(connection, sql, -1, &handle, nil)
        guard code == SQLITE_OK, let handle else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
        self.connection = connection
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    private static var transient: sqlite3_destructor_type { unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self) }

    func bind(_ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bind(index, utf8: $0) }
    }

    /// Binds UTF-8 bytes as text.
    func bind(_ index: Int32, utf8 bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { bind(index, utf8: $0) }
    }

    /// Binds UTF-8 bytes as text without SQLite copying them: they must stay valid and
    /// unchanged until the statement has run (`run()`) or the index is bound anew.
    func bind(_ index: Int32, borrowedUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)
            return
        }
        _ = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            sqlite3_bind_text(handle, index, $0, Int32(bytes.count), Self.static)
        }
    }

    private static var `static`: sqlite3_destructor_type? { nil }  // SQLITE_STATIC

    private func bind(_ index: Int32, utf8 bytes: UnsafeBufferPointer<UInt8>) {
        // An empty buffer may have no address, and a null pointer would bind NULL.
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)
            return
        }
        _ = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            sqlite3_bind_text(handle, index, $0, Int32(bytes.count), Self.transient)
        }
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(handle, index, value) }
    func bindNull(_ index: Int32) { sqlite3_bind_null(handle, index) }
    func bind(_ index: Int32, _ value: Int64?) { if let value { bind(index, value) } else { bindNull(index) } }
    func bind(_ index: Int32, _ value: Double?) { if let value { bind(index, value) } else { bindNull(index) } }

    func bind(_ index: Int32, blob: ArraySlice<UInt8>) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient)
        }
    }

    /// Runs the statement to completion with the values bound, then resets it.
    func run() throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code) }
    }

    /// Steps once: true while a row is available (read it with `int64`/`double`).
    func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw error(code) }
        return false
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}
