import ArgumentParser
import Catalog
import Federation
import FederationProtocol
import Foundation

/// `fedshare request`: an analyst asks the serving aggregator for one round.
struct Request: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the federation for one round, as an analyst, and write its result.",
        discussion: """
            Signs a request with the analyst's kit (analyst-NAME/ from fedshare provision) and sends \
            it to the aggregator (fedshare aggregator --serve) over mutual TLS; waits for the round and \
            writes the usual outputs (attention.csv, counts.csv, result.json with the request, the \
            analyst and the certified privacy cost, heatmap.svg). The filters (those of fedshare catalog \
            query) choose the records: each world counts only its records whose item (the manifest's \
            item_column) is an entry of its own catalog matching every filter; with none, every record. \
            Each world answers under its own policy: a world that declines is named with its reason, \
            and the round goes on while the threshold of worlds remains. A request beyond the \
            analyst's cap is refused before any world computes anything.
            """)

    @OptionGroup var kit: KitOptions
    @OptionGroup var filters: CatalogFilterOptions
    @Option(help: ArgumentHelp("The aggregator's HOST:PORT (default: the manifest's).", valueName: "HOST:PORT")) var aggregator: String?
    @Option(help: "Output folder.") var out = "fedshare-request"
    @Option(help: "Seconds to keep trying to reach the aggregator.") var retryFor = 30
    @Option(help: "Seconds to wait for the round (queued behind others, then run).") var timeout = 3600
    @Flag(help: "Print result.json's summary as JSON instead of text.") var json = false

    func validate() throws {
        guard (0...3600).contains(retryFor) else { throw ValidationError("--retry-for must be between 0 and 3600 seconds") }
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 86400 seconds") }
    }

    func run() async throws {
        let loaded = try kit.load()
        guard let analyst = loaded.analystName else {
            throw CLIError("\(loaded.folder.path): this is \(loaded.role)'s kit; a request needs an analyst's kit (analyst-NAME/ from fedshare provision)")
        }
        for warning in loaded.warnings { StatusLine.warn(warning) }
        let request = RoundRequest.new(manifestHash: loaded.manifest.digest, analyst: analyst, scope: try filters.scope())
        let signed = try request.signed(by: loaded.signer())
        let address = try aggregator.map { try HostPort(parsing: $0, field: "--aggregator") }
        let connection = try PartyConnection(
            kit: loaded, aggregator: address, retry: RetryPolicy(giveUpAfter: .seconds(retryFor)), logger: .quiet("fedshare.request"))
        let reply = try await connection.request(Fedshare_V1_SignedRoundRequest(signed), timeout: .seconds(timeout))
        let declined = reply.dropped.map { "party \($0.party) (\(RoundPhase(wire: $0.phase).rawValue)): \($0.reason)" }
        guard reply.hasHeader else {
            let aborted = reply.aborted
            throw CLIError(
                "round \(reply.roundID) for request \(request.id) released nothing: aborted in phase \(RoundPhase(wire: aborted.phase).rawValue): \(aborted.reason)"
                    + (declined.isEmpty ? "" : "; left out: " + declined.joined(separator: "; ")))
        }
        let plan = try RoundPlan(manifest: loaded.manifest)
        let result = try RoundResult(round: reply.roundID, header: Wire.ResultHeader(reply.header), values: reply.values, plan: plan)
        let folder = URL(fileURLWithPath: out)
        let summary = try RoundOutputs.write(result, plan: plan, to: folder, request: request)
        if json {
            try printJSON(summary)
            return
        }
        print(
            "round \(result.round) for request \(request.id) released: contributors \(result.contributors.map(String.init).joined(separator: ", ")); "
                + "ε = \(summary.privacyCost.epsilon), δ = \(summary.privacyCost.delta) (\(summary.privacyCost.accountant)); outputs in \(folder.standardizedFileURL.path)"
        )
        for line in declined { print("left out: \(line)") }
        if let noise = summary.noise, !result.noNoise { print("noise: \(noise.summaryLine)") }
    }
}
