import ArgumentParser
import Catalog
import Foundation

/// `fedshare catalog import`: entries from a JSONL or CSV file into a catalog file.
struct CatalogImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import entries from a JSONL or CSV file into a catalog (created if missing).",
        discussion: """
            JSONL: one object per line with the fields id, kind, name, tags, attributes, start, end and \
            location ({"x", "y", "z"}); unknown fields are refused. CSV: a header with id, kind, name \
            and optionally tags (separated by ;), start, end, x, y, z; every other column is an \
            attribute, an empty cell is absent. The first bad line is reported with its file, line and \
            field, and then nothing is imported. An entry whose id is already in the catalog replaces it.
            """)

    @OptionGroup var file: CatalogFileOption
    @Argument(help: ArgumentHelp("The entries: a .jsonl or .csv file.", valueName: "ENTRIES")) var entries: String
    @OptionGroup var output: JSONOutputOptions

    struct Output: Encodable {
        let catalog: String
        let imported: Int
        let world: String
        let seconds: Double
    }

    func run() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let read = try EntryFile.read(path: entries)
        let catalog = try Catalog(path: file.catalog, access: .create)
        try catalog.importEntries(read)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if output.json {
            try printJSON(Output(catalog: file.catalog, imported: read.count, world: Catalog.localWorld, seconds: seconds))
        } else {
            print("imported \(read.count) entries from \(entries) into \(file.catalog) in \(String(format: "%.2f", seconds)) s")
        }
    }
}
