import Foundation

/// Everything that can go wrong in the Attention module, each as one line that names the file,
/// field, line or column at fault and says what was expected.
public enum AttentionError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// A file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// A file's structure (header, shape, format) is wrong as a whole.
    case malformedFile(file: String, problem: String)
    /// One record of a data file is bad: `position` is e.g. "line 14, column 'f3'".
    case badRecord(file: String, position: String, problem: String)
    /// Shapes of the model or the data do not agree.
    case shapeMismatch(String)
    /// A record's scores overflowed (its features are too large for the model).
    case scoreOverflow(record: Int)
    /// An allocation input is wrong.
    case allocation(file: String, problem: String)
    /// A partial result file's field is wrong or does not match (the manifest, or the other
    /// files of a merge).
    case partialResult(file: String, field: String, problem: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .malformedFile(let file, let problem):
            return "\(file): \(problem)"
        case .badRecord(let file, let position, let problem):
            return "\(file) \(position): \(problem)"
        case .shapeMismatch(let problem):
            return problem
        case .scoreOverflow(let record):
            return "record \(record): attention scores are not finite (features too large for the model's scale)"
        case .allocation(let file, let problem):
            return "\(file): \(problem)"
        case .partialResult(let file, let field, let problem):
            return "\(file): field '\(field)': \(problem)"
        }
    }

    public var errorDescription: String? { description }
}
