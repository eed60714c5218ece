import ArgumentParser

/// `fedshare catalog …`: each world's public metadata, indexed and queried.
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Import, query and describe a catalog of venues, events and items.",
        discussion: """
            A catalog holds only public metadata: what a world would publish on a web page anyway. \
            Entries have an id, kind, name, tags, attributes, an optional [start, end] interval \
            (RFC 3339) and an optional location (x, y, z). A party's own entries belong to the world \
            "local".
            """,
        subcommands: [CatalogImportCommand.self, CatalogQueryCommand.self, CatalogStatsCommand.self])
}

/// The `--catalog FILE` option shared by the catalog subcommands.
struct CatalogFileOption: ParsableArguments {
    @Option(help: ArgumentHelp("The catalog file (SQLite).", valueName: "FILE")) var catalog: String
}
