import Foundation

/// What is wrong with a federation manifest, as one line naming the file and field at fault
/// and what was expected. (Its anchors and encoder files are read by Attention, whose errors
/// name those files.)
public enum ManifestError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// A field is missing, of the wrong type, or out of range.
    case field(file: String, field: String, problem: String)
    /// The manifest file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The manifest is not UTF-8 TOML as a whole.
    case malformedFile(file: String, problem: String)

    public var description: String {
        switch self {
        case .field(let file, let field, let problem):
            return "\(file): field '\(field)': \(problem)"
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .malformedFile(let file, let problem):
            return "\(file): \(problem)"
        }
    }

    public var errorDescription: String? { description }
}
