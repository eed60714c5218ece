import Foundation

/// Writes machine-readable output: one JSON object, sorted keys, on standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Writes `data` to `url` atomically (a temporary file renamed into place), so that a failure
/// never leaves a half-written file; `permissions` (e.g. 0o600 for secrets) apply before the
/// rename.
func writeAtomically(_ data: Data, to url: URL, permissions: Int? = nil) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    guard
        FileManager.default.createFile(
            atPath: temporary.path, contents: nil,
            attributes: permissions.map { [.posixPermissions: $0] })
    else {
        throw CLIError("\(url.path): cannot write (does the folder \(directory.path) exist and is it writable?)")
    }
    do {
        try data.write(to: temporary)
        // rename(2) replaces the target atomically, whether or not it exists (FileManager's
        // replaceItemAt fails on Linux when the target does not exist yet).
        guard rename(temporary.path, url.path) == 0 else {
            throw CLIError("\(url.path): cannot write: \(String(cString: strerror(errno)))")
        }
    } catch let error as CLIError {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw CLIError("\(url.path): cannot write: \(error.localizedDescription)")
    }
}

/// An error whose message is the whole line shown to the user.
struct CLIError: Error, CustomStringConvertible, LocalizedError {
    let description: String
    init(_ description: String) { self.description = description }
    var errorDescription: String? { description }
}
