import Foundation
import Logging

/// The `--log-level` option and the `FEDSHARE_LOG_LEVEL` environment variable shared by the
/// long-running commands. Logs go to standard error and never contain secrets (key shares,
/// mask seeds, raw contributions), at any level.
enum LogLevelSetting {
    static let environmentVariable = "FEDSHARE_LOG_LEVEL"
    static let help = "Log level on standard error: trace, debug, info, notice, warning, error or critical (default: info; or set FEDSHARE_LOG_LEVEL)."

    /// The level from `--log-level`, else `FEDSHARE_LOG_LEVEL`, else `fallback`.
    /// - Throws: `CLIError` naming the option or variable with an unknown level.
    static func resolve(_ option: String?, fallback: Logger.Level,
                        environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Logger.Level {
        if let option { return try parse(option, source: "--log-level") }
        if let value = environment[environmentVariable], !value.isEmpty { return try parse(value, source: environmentVariable) }
        return fallback
    }

    static func parse(_ text: String, source: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw CLIError("\(source): unknown log level \"\(text)\"; expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return level
    }
}
