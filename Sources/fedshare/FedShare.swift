import ArgumentParser

@main
struct FedShare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedshare",
        abstract: "Federated, privacy-preserving attention statistics.",
        version: "0.1.0",
        subcommands: [
            AttentionCommand.self,
            Allocate.self,
            Budget.self,
            Privacy.self,
            PaillierCommand.self,
            Bench.self,
            Provision.self,
            Status.self,
            Simulate.self,
            Aggregator.self,
            Party.self,
        ]
    )
}
