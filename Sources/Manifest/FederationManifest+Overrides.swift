import Attention
import Foundation

extension FederationManifest {
    /// Settings a local run (`fedshare simulate`, `fedshare bench e2e`) changes in a manifest;
    /// `nil` keeps the manifest's own.
    public struct Overrides: Sendable, Equatable {
        public var parties: [Int]?
        public var threshold: Int?
        /// "host:port".
        public var aggregator: String?
        public var mode: CryptoMode?
        public var keyBits: Int?
        /// The `[analysts]` names (their caps kept).
        public var analysts: [String]?

        public init(
            parties: [Int]? = nil, threshold: Int? = nil, aggregator: String? = nil, mode: CryptoMode? = nil, keyBits: Int? = nil,
            analysts: [String]? = nil
        ) {
            self.analysts = analysts
            self.parties = parties
            self.threshold = threshold
            self.aggregator = aggregator
            self.mode = mode
            self.keyBits = keyBits
        }
    }

    /// This manifest with `overrides` applied. The result is not validated: write it
    /// (`tomlText`) and load it back, so that it is checked as any manifest is.
    public func applying(_ overrides: Overrides) -> FederationManifest {
        var manifest = self
        if let parties = overrides.parties { manifest.parties = parties }
        if let threshold = overrides.threshold { manifest.threshold = threshold }
        if let aggregator = overrides.aggregator { manifest.aggregator = aggregator }
        if let mode = overrides.mode { manifest.crypto.mode = mode }
        if let keyBits = overrides.keyBits { manifest.crypto.keyBits = keyBits }
        if let analysts = overrides.analysts { manifest.analysts.names = analysts }
        return manifest
    }

    /// The manifest as TOML text that `parse` reads back to an equal manifest (up to `url` and
    /// `digest`), with its anchors and encoder at the given paths (relative to the file's folder).
    public func tomlText(anchorsPath: String, encoderPath: String?) -> String {
        var lines: [String] = []
        func table(_ name: String) {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(name)]")
        }
        func set(_ key: String, _ value: String?) { if let value { lines.append("\(key) = \(value)") } }

        table("federation")
        set("name", toml(name))
        set("parties", toml(parties.map(String.init)))
        set("threshold", String(threshold))
        set("aggregator", toml(aggregator))

        table("attention")
        set("anchors", toml(anchorsPath))
        set("encoder", encoderPath.map(toml))
        set("scale", attention.scale.map(toml))
        set("bias", toml(model.bias.map(toml)))
        set("groups", toml(attention.groups.map(toml)))
        set("features", attention.features.map { toml($0.map(toml)) })
        set("group_column", toml(attention.groupColumn))
        set("user_column", attention.userColumn.map(toml))
        set("item_column", attention.itemColumn.map(toml))
        set("max_records_per_user", attention.maxRecordsPerUser.map(String.init))
        set("ignore_columns", toml(attention.ignoreColumns.map(toml)))

        table("privacy")
        set("mechanism", toml(privacy.mechanism.rawValue))
        set("epsilon", toml(privacy.epsilon))
        set("delta", toml(privacy.delta))
        set("unit", toml(privacy.unit.rawValue))
        set("epsilon_budget", toml(privacy.epsilonBudget))
        set("delta_budget", toml(privacy.deltaBudget))

        table("crypto")
        set("mode", toml(crypto.mode.rawValue))
        set("key_bits", String(crypto.keyBits))
        set("fractional_bits", crypto.fractionalBits.map(String.init))
        set("max_records", String(crypto.maxRecords))

        if let catalog {
            table("catalog")
            set("where", toml(catalog.conditions.map(toml)))
            set("text", catalog.text.map(toml))
            set("from", catalog.from.map(toml))
            set("to", catalog.to.map(toml))
            set("near", catalog.near.map(toml))
            set("radius", catalog.radius.map(toml))
            set("within", catalog.within.map(toml))
        }
        if !analysts.names.isEmpty {
            table("analysts")
            set("names", toml(analysts.names.map(toml)))
            set("epsilon_cap", analysts.cap.map { toml($0.epsilon) })
            set("delta_cap", analysts.cap.map { toml($0.delta) })
        }
        if policy != RequestPolicy() {
            table("policy")
            set("accept_filters", policy.acceptedFilters.map { toml($0.map(\.rawValue).sorted().map(toml)) })
            set("accept_keys", policy.acceptedKeys.map { toml($0.sorted().map(toml)) })
            set("min_records", String(policy.minimumRecords))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A TOML basic string.
private func toml(_ text: String) -> String {
    var quoted = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        case "\r": quoted += "\\r"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            quoted += String(format: "\\u%04X", scalar.value)
        default: quoted.unicodeScalars.append(scalar)
        }
    }
    return quoted + "\""
}

/// A TOML float: Swift's shortest round-tripping form ("1.0", "1e-06") is valid TOML.
private func toml(_ number: Double) -> String { "\(number)" }

/// A TOML array of values already written as TOML.
private func toml(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }
