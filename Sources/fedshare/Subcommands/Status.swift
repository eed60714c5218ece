import ArgumentParser
import Federation
import FederationProtocol
import Foundation
import Logging

/// `fedshare status`: the aggregator's view of the federation.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the aggregator's view: parties connected, current round and phase, last result.",
        discussion: """
            Connects to the running aggregator with a startup kit (the aggregator's own or any \
            party's; mutual TLS as for a round) and prints what it reports.
            """)

    @OptionGroup
    var kit: KitOptions

    @Option(name: .long, help: "The aggregator's address (default: the manifest's).")
    var aggregator: String?

    @Option(name: .long, help: "Seconds to keep trying to reach the aggregator.")
    var retryFor = 5

    @OptionGroup
    var output: JSONOutputOptions

    func validate() throws {
        guard (0...3600).contains(retryFor) else { throw ValidationError("--retry-for must be between 0 and 3600 seconds") }
    }

    func run() async throws {
        let loaded = try kit.load()
        for warning in loaded.warnings { StatusLine.warn(warning) }
        let address = try aggregator.map { try HostPort(parsing: $0, field: "--aggregator") }
        let connection = try PartyConnection(
            kit: loaded, aggregator: address, retry: RetryPolicy(giveUpAfter: .seconds(retryFor)),
            logger: .quiet("fedshare.status"))
        let reply = try await connection.status()
        let view = View(reply, address: connection.address.description, parties: loaded.manifest.parties)
        if output.json { try printJSON(view) } else { print(view.text) }
    }

    /// The status reply in the CLI's words.
    struct View: Encodable {
        var aggregator: String
        var federation: String
        var mode: String
        var parties: [Int]
        var connected: [Int]
        var currentRound: UInt64
        var phase: String
        var waitingFor: [Int]
        var last: Last?

        struct Last: Encodable {
            var round: UInt64
            var released: Bool
            var contributors: [Int]
            var dropped: [String]
            var abortReason: String?
            var outputDirectory: String?
            var ledgerEntryID: Int64?
        }

        init(_ reply: Fedshare_V1_StatusReply, address: String, parties: [Int]) {
            aggregator = address
            federation = reply.federation
            mode = reply.mode == .secagg ? "secagg" : reply.mode == .paillier ? "paillier" : "unknown"
            self.parties = parties
            connected = reply.connected.map(Int.init)
            currentRound = reply.currentRound
            phase = Self.name(reply.phase)
            waitingFor = reply.waitingFor.map(Int.init)
            if reply.hasLast {
                let last = reply.last
                self.last = Last(
                    round: last.roundID, released: last.released, contributors: last.contributors.map(Int.init),
                    dropped: last.dropped.map { "party \($0.party) at \(Self.name($0.phase))\($0.reason.isEmpty ? "" : ": \($0.reason)")" },
                    abortReason: last.abortReason.isEmpty ? nil : last.abortReason,
                    outputDirectory: last.outputDirectory.isEmpty ? nil : last.outputDirectory,
                    ledgerEntryID: last.ledgerEntryID == 0 ? nil : last.ledgerEntryID)
            }
        }

        static func name(_ phase: Fedshare_V1_Phase) -> String {
            switch phase {
            case .join: return "join"
            case .advertise: return "advertise"
            case .share: return "share"
            case .contribute: return "contribute"
            case .check: return "check"
            case .decrypt: return "decrypt"
            case .unmask: return "unmask"
            case .release: return "release"
            case .done: return "done"
            case .aborted: return "aborted"
            default: return "idle"
            }
        }

        var text: String {
            func list(_ ids: [Int]) -> String { ids.isEmpty ? "none" : ids.map(String.init).joined(separator: ", ") }
            var lines = ["Federation \(federation) (\(mode)), aggregator \(aggregator)"]
            lines.append("Parties connected: \(list(connected)) (members: \(list(parties)))")
            if currentRound == 0 {
                lines.append("No round in progress")
            } else {
                lines.append("Round \(currentRound): phase \(phase)" + (waitingFor.isEmpty ? "" : ", waiting for \(list(waitingFor))"))
            }
            if let last {
                var line = "Last round \(last.round): "
                if last.released {
                    line += "released; contributors \(list(last.contributors))"
                    if !last.dropped.isEmpty { line += "; dropped: " + last.dropped.joined(separator: "; ") }
                    if let id = last.ledgerEntryID { line += "; ledger entry \(id)" }
                    if let folder = last.outputDirectory { line += "; outputs in \(folder)" }
                } else {
                    line += "aborted" + (last.abortReason.map { ": \($0)" } ?? "")
                }
                lines.append(line)
            } else {
                lines.append("No round finished yet")
            }
            return lines.joined(separator: "\n")
        }
    }
}
