import Foundation

/// Reads a whole file, or standard input for "-", with errors that name the file.
func readInput(_ path: String, what: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError("\(path): no such file (expected \(what))")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError("\(path): cannot be read (expected \(what))")
    }
    return data
}

/// Decodes JSON from a file, turning decoding failures into one line naming the file and field.
func readJSON<T: Decodable>(_ type: T.Type, from path: String, what: String) throws -> T {
    let data = try readInput(path, what: what)
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        throw CLIError("\(path): \(describe(error)) (expected \(what))")
    }
}

/// A one-line account of a JSON decoding failure.
func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context):
        let parent = path(context.codingPath)
        return "missing field \"\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)\""
    case .typeMismatch(let type, let context):
        return "field \"\(path(context.codingPath))\": expected \(type)"
    case .valueNotFound(let type, let context):
        return "field \"\(path(context.codingPath))\": expected \(type), found null"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "field \"\(path(context.codingPath))\": \(context.debugDescription)"
    @unknown default:
        return "cannot decode JSON"
    }
}

/// Writes text to a file (atomically) or, for nil or "-", to standard output.
func writeOutput(_ text: String, to path: String?, permissions: Int? = nil) throws {
    guard let path, path != "-" else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    try writeAtomically(Data(text.utf8), to: URL(fileURLWithPath: path), permissions: permissions)
}
