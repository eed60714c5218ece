import ArgumentParser

@main
struct FedShare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedshare",
        abstract: "Federated, privacy-preserving attention statistics.",
        version: "0.1.0",
        subcommands: [
            Simulate.self,
            Provision.self,
            Aggregator.self,
            Party.self,
            Status.self,
            Budget.self,
            Privacy.self,
            AttentionCommand.self,
            Allocate.self,
            CatalogCommand.self,
            PaillierCommand.self,
            Bench.self,
        ]
    )
}
