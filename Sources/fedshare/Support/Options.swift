import ArgumentParser
import Federation
import Foundation
import Logging
import Manifest

// Options several commands share (`@OptionGroup`), and the option values with a syntax of their
// own (`ExpressibleByArgument`). The value types accept any text when parsing and refuse bad
// values in `validate()` or where they are used, so that the one-line messages stay the ones
// users and scripts know (ArgumentParser's own "The value … is invalid" would replace them).

/// `--json`: one JSON object on standard output instead of text.
struct JSONOutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON on standard output instead of text.")
    var json = false
}

/// `--kit`: a participant's startup kit.
struct KitOptions: ParsableArguments {
    @Option(name: .long, help: "A startup kit folder (aggregator/, party-N/ or analyst-NAME/ from fedshare provision).")
    var kit: String

    /// The kit, checked (`FederationError` names the file at fault).
    func load() throws -> FederationKit {
        try FederationKit.load(from: URL(fileURLWithPath: kit))
    }
}

/// `--ledger`: the privacy ledger of a participant, by default in its kit folder.
struct LedgerOptions: ParsableArguments {
    @Option(name: .long, help: "The privacy ledger (default: in the kit folder, federation-ledger.sqlite for the aggregator, ledger.sqlite for a party).")
    var ledger: String?

    /// `--ledger`, else the ledger's place in `kit`.
    func path(in kit: FederationKit) -> String {
        ledger ?? kit.folder.appendingPathComponent(kit.role == .aggregator ? "federation-ledger.sqlite" : "ledger.sqlite").path
    }
}

/// `--log-level` and the `FEDSHARE_LOG_LEVEL` environment variable shared by the long-running
/// commands. Logs go to standard error and never contain secrets (key shares, mask seeds, raw
/// contributions), at any level.
struct LoggingOptions: ParsableArguments {
    static let environmentVariable = "FEDSHARE_LOG_LEVEL"

    @Option(
        name: .long,
        help:
            "Log level on standard error: trace, debug, info, notice, warning, error or critical (default: info, error for a party with --json; or set FEDSHARE_LOG_LEVEL)."
    )
    var logLevel: LogLevel?

    /// The level from `--log-level`, else `FEDSHARE_LOG_LEVEL`, else `fallback`.
    /// - Throws: `CLIError` naming the option or variable with an unknown level.
    func level(fallback: Logger.Level, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Logger.Level {
        if let logLevel { return try logLevel.level(source: "--log-level") }
        if let value = environment[Self.environmentVariable], !value.isEmpty { return try LogLevel(value).level(source: Self.environmentVariable) }
        return fallback
    }

    /// A logger labelled `label` at the chosen level.
    func logger(_ label: String, fallback: Logger.Level) throws -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = try level(fallback: fallback)
        return logger
    }
}

extension Logger {
    /// A logger for a short command: transport notes (retries) stay quiet, since the command
    /// prints its own one-line error.
    static func quiet(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }
}

/// A log level as written: trace, debug, info, notice, warning, error or critical (any case).
struct LogLevel: ExpressibleByArgument {
    let text: String

    init(_ text: String) { self.text = text }
    init?(argument: String) { self.init(argument) }

    /// The level, or a `CLIError` naming `source` (the option or variable it came from).
    func level(source: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw CLIError("\(source): unknown log level \"\(text)\"; expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return level
    }
}

/// `--decryption-committee`: threshold or everyone.
extension DecryptionCommittee: ExpressibleByArgument {}

/// `--mode`: paillier or secagg.
struct ModeArgument: ExpressibleByArgument {
    let text: String

    init(_ mode: FederationManifest.CryptoMode) { text = mode.rawValue }
    init?(argument: String) { text = argument }

    /// `nil` for text that names no mode.
    var mode: FederationManifest.CryptoMode? { FederationManifest.CryptoMode(rawValue: text) }
    var defaultValueDescription: String { text }

    /// - Throws: `ValidationError` ("--mode must be paillier or secagg").
    func validate() throws {
        guard mode != nil else { throw ValidationError("--mode must be paillier or secagg") }
    }
}

/// `--precomputed PARTY=FILE`: that party takes part with this partial result.
struct PrecomputedArgument: ExpressibleByArgument {
    let text: String
    /// `nil` when the text is not a party id, '=' and a file.
    let file: (party: Int, url: URL)?

    init?(argument: String) {
        text = argument
        if let equals = argument.firstIndex(of: "="), let party = Int(argument[..<equals]), argument.index(after: equals) < argument.endIndex {
            file = (party, URL(fileURLWithPath: String(argument[argument.index(after: equals)...])))
        } else {
            file = nil
        }
    }

    /// - Throws: `CLIError` naming the text and the expected form.
    func validate() throws {
        guard file != nil else { throw CLIError("--precomputed \(text): expected PARTY=FILE (a party id and a partial result file)") }
    }
}

/// `--drop PARTY@PHASE`: that party stops answering at that phase.
struct DropArgument: ExpressibleByArgument {
    /// The phases a party can stop answering at.
    static let phases: [RoundPhase] = [.join, .advertise, .share, .contribute, .check, .decrypt, .unmask]

    let text: String
    /// `nil` when the text is not PARTY@PHASE with one of `phases`.
    let drop: (party: Int, phase: RoundPhase)?

    init?(argument: String) {
        text = argument
        let parts = argument.split(separator: "@", omittingEmptySubsequences: false)
        if parts.count == 2, let party = Int(parts[0]), let phase = RoundPhase(rawValue: String(parts[1])), Self.phases.contains(phase) {
            drop = (party, phase)
        } else {
            drop = nil
        }
    }

    /// - Throws: `CLIError` naming the text and the expected form.
    func validate() throws {
        guard drop != nil else {
            throw CLIError("--drop \(text): expected PARTY@PHASE with a phase among \(Self.phases.map(\.rawValue).joined(separator: ", "))")
        }
    }
}
