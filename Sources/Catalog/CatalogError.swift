import Foundation

/// Everything that can go wrong in the Catalog module, each as one line saying what and where.
public enum CatalogError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// A line of an entries file (or an entry given through the API, `file` "entries") is wrong.
    case invalidEntry(file: String, line: Int, field: String?, reason: String)
    /// An entries file that cannot be read, or whose name says neither JSONL nor CSV.
    case unreadable(file: String, reason: String)
    /// No catalog file at the path, and the caller only reads (never creates).
    case noCatalog(path: String)
    /// The catalog file cannot be opened, is not a catalog, or a write failed.
    case storage(path: String, reason: String)
    /// A query option that cannot be used as given.
    case invalidQuery(option: String, reason: String)
    /// A world replacement whose version is not newer than the one the catalog holds.
    case staleVersion(world: String, offered: Int64, held: Int64)
    /// A text that is not an RFC 3339 instant, with the reason where one is more specific than
    /// the form (a leap second, digits finer than a microsecond, no time zone).
    case instant(text: String, reason: String?)

    public var description: String {
        switch self {
        case .invalidEntry(let file, let line, let field, let reason):
            return "\(file) line \(line)\(field.map { ", field \"\($0)\"" } ?? ""): \(reason)"
        case .unreadable(let file, let reason):
            return "\(file): \(reason)"
        case .noCatalog(let path):
            return "no catalog at \(path)"
        case .storage(let path, let reason):
            return "\(path): \(reason)"
        case .invalidQuery(let option, let reason):
            return "\(option): \(reason)"
        case .staleVersion(let world, let offered, let held):
            return "world \(world): version \(offered) is not newer than the version \(held) already held (a replayed or out-of-order catalog)"
        case .instant(let text, let reason):
            return "not an RFC 3339 instant (\"\(text)\"\(reason.map { ": \($0)" } ?? ""))"
        }
    }

    public var errorDescription: String? { description }
}
