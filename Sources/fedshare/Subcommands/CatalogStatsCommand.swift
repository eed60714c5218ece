import ArgumentParser
import Catalog
import Foundation

/// `fedshare catalog stats`: what a catalog file holds.
struct CatalogStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count a catalog's entries by world and kind, with times, with locations.")

    @OptionGroup var file: CatalogFileOption
    @OptionGroup var output: JSONOutputOptions

    func run() throws {
        let stats = try Catalog(path: file.catalog, access: .readOnly).stats()
        if output.json {
            try printJSON(stats)
            return
        }
        func list(_ counts: [String: Int]) -> String {
            counts.isEmpty ? "-" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        print("\(file.catalog): \(stats.entries) entries, \(stats.fileBytes) bytes")
        print("worlds:        \(list(stats.worlds))")
        print("kinds:         \(list(stats.kinds))")
        print("with time:     \(stats.withTime)")
        print("with location: \(stats.withLocation) (\(stats.withHeight) with z)")
        print("attributes:    \(list(stats.attributes))")
    }
}
