import GRDB

/// Splits text into tokens exactly as the catalog's full-text index does: SQLite FTS5's
/// `unicode61` tokenizer (letters and digits make tokens, anything else separates them; case
/// folded, diacritics removed). Asking SQLite itself, rather than imitating it, keeps the
/// words of a query and the tokens of the index the same by construction.
public final class TextTokenizer: Sendable {
    private let queue: DatabaseQueue

    public init() throws {
        do {
            queue = try DatabaseQueue()
            try queue.write { db in
                try db.execute(
                    sql: """
                        CREATE VIRTUAL TABLE words USING fts5(text, tokenize = 'unicode61');
                        CREATE VIRTUAL TABLE word_list USING fts5vocab(words, instance);
                        """)
            }
        } catch {
            throw CatalogError.storage(path: ":memory:", reason: "SQLite lacks FTS5 (\(error))")
        }
    }

    /// The tokens of `text`, in order, repeats kept.
    public func tokens(_ text: String) throws -> [String] {
        do {
            return try queue.write { db in
                try db.execute(sql: "DELETE FROM words")
                try db.execute(sql: "INSERT INTO words(rowid, text) VALUES (1, ?)", arguments: [text])
                return try String.fetchAll(db, sql: "SELECT term FROM word_list ORDER BY offset")
            }
        } catch {
            throw CatalogError.storage(path: ":memory:", reason: "cannot tokenize text: \(error)")
        }
    }
}
