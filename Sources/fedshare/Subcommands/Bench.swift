import ArgumentParser

/// `fedshare bench …`: measured performance, for people (tables) and programs (`--json`).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the performance of fedshare's components.",
        subcommands: [
            BenchPaillier.self,
            BenchSecAgg.self,
            BenchAttention.self,
            BenchPrivacy.self,
            BenchE2E.self,
            BenchCatalog.self,
        ]
    )
}
