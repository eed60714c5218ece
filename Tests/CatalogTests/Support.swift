import Catalog
import Foundation

/// A fresh path in a new temporary folder.
func temporaryPath(_ name: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-catalog-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
}

/// A new, empty catalog file.
func emptyCatalog() throws -> Catalog {
    try Catalog(path: try temporaryPath("catalog.sqlite"), access: .create)
}

/// Writes `text` to a new temporary file named `name`; returns its path.
func temporaryFile(_ name: String, _ text: String) throws -> String {
    let path = try temporaryPath(name)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

func instant(_ text: String) -> Instant { try! Instant(rfc3339: text) }

/// (world, id) of each match, in order.
func keys(_ matches: [CatalogMatch]) -> [String] { matches.map { "\($0.world)/\($0.entry.id)" } }
