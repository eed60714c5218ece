import ArgumentParser
import Attention
import Catalog
import DifferentialPrivacy
import Federation
import Manifest

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
            Request.self,
            Budget.self,
            Privacy.self,
            AttentionCommand.self,
            Allocate.self,
            CatalogCommand.self,
            PaillierCommand.self,
            Bench.self,
        ]
    )

    /// Parses and runs the command; whatever it throws leaves through `userFacing`, as one line.
    static func main() async {
        // Before anything opens a SQLite connection (see its documentation).
        Catalog.prepareSQLiteForParallelImports()
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: userFacing(error))
        }
    }

    /// The one place where errors become what users see: a library error's own one-line
    /// description (each names the file, field or party at fault), a `CLIError` as it is, and
    /// ArgumentParser's own errors (usage, help, exit codes) untouched.
    static func userFacing(_ error: any Error) -> any Error {
        switch error {
        case let error as AttentionError: return CLIError(error.description)
        case let error as ManifestError: return CLIError(error.description)
        case let error as FederationError: return CLIError(error.description)
        case let error as DifferentialPrivacyError: return CLIError(error.description)
        case let error as CatalogError: return CLIError(error.description)
        default: return error
        }
    }
}
