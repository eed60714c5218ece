import Foundation

/// Why provisioning a federation, or loading a participant's startup kit, failed. Each
/// description is one line naming the file, field or party at fault and what to do.
public enum ProvisioningError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// The output folder already holds a federation CA and `--force` was not given.
    case existingAuthority(path: String)
    /// A file could not be read or written.
    case io(path: String, problem: String)
    /// A file exists but its content is wrong (field names the part at fault, if any).
    case malformed(path: String, problem: String)
    /// A kit or manifest setting is invalid or inconsistent.
    case invalidSetting(field: String, problem: String)
    /// A certificate failed a check (chain, validity, identity).
    case certificate(path: String, problem: String)
    /// A secret file is readable by others.
    case insecurePermissions(path: String, mode: Int)
    /// The manifest references a file that cannot travel inside a kit.
    case unsupportedManifestReference(field: String, path: String)
    /// Dealing the threshold Paillier key failed.
    case keyDealing(String)

    public var description: String {
        switch self {
        case .existingAuthority(let path):
            return "\(path): a federation CA already exists here; pass --force to replace it (every existing kit becomes useless)"
        case .io(let path, let problem):
            return "\(path): \(problem)"
        case .malformed(let path, let problem):
            return "\(path): \(problem)"
        case .invalidSetting(let field, let problem):
            return "\(field): \(problem)"
        case .certificate(let path, let problem):
            return "\(path): \(problem)"
        case .insecurePermissions(let path, let mode):
            return "\(path): secret file is accessible by others (mode \(String(mode, radix: 8))); run chmod 600 \(path)"
        case .unsupportedManifestReference(let field, let path):
            return "manifest field \(field): \(path) is outside the manifest's folder; move it beside the manifest (or below it) so that kits can carry it"
        case .keyDealing(let problem):
            return "dealing the threshold Paillier key failed: \(problem)"
        }
    }

    public var errorDescription: String? { description }
}
