/// Everything the federation runtime refuses, each with one actionable line.
public enum FederationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The round's parameters do not match this side's manifest or key.
    case parameterMismatch(field: String, expected: String, found: String)
    /// A message arrived that this phase does not expect.
    case unexpectedMessage(party: Int?, received: String, phase: String)
    /// A message or contribution is malformed.
    case malformed(party: Int?, reason: String)
    /// A message belongs to another round than the one in progress.
    case wrongRound(party: Int?, found: UInt64, current: UInt64)
    /// A party's message claims another identity than its certificate proves.
    case identity(party: Int, claimed: Int)
    /// The aggregator asked for something the protocol forbids (a second opening, a sum that is
    /// not the round's, a forged or unsigned set): the party refuses and names it.
    case aggregatorRefused(party: Int, reason: String)
    /// A configuration problem (bad threshold, unknown party, no key for Paillier mode…).
    case configuration(String)
    /// This party's own data cannot be contributed (it does not fit the manifest's shape, grid or
    /// bound, or cannot be encrypted).
    case contribution(String)
    /// A noise share could not be drawn.
    case noise(String)
    /// A state the engine or runtime should never reach (a bug, not the peer's fault).
    case internalState(String)
    /// Durable state could not be read or written.
    case storage(path: String, reason: String)
    /// An output file could not be written.
    case output(file: String, reason: String)
    /// The federation directory refused a party's published catalog (forged, unsigned, stale…).
    case catalogRefused(party: Int, reason: String)
    /// The federation directory refused a query (not signed by a member party, malformed…).
    case catalogQueryRefused(party: Int, reason: String)

    public var description: String {
        switch self {
        case .parameterMismatch(let field, let expected, let found):
            return "round parameter \(field): this side expects \(expected), the round announced \(found)"
        case .unexpectedMessage(let party, let received, let phase):
            return "\(party.map { "party \($0)" } ?? "aggregator") sent \(received) during phase \(phase)"
        case .malformed(let party, let reason):
            return "\(party.map { "party \($0)" } ?? "aggregator"): \(reason)"
        case .wrongRound(let party, let found, let current):
            return "\(party.map { "party \($0)" } ?? "aggregator"): message for round \(found) during round \(current)"
        case .identity(let party, let claimed):
            return "party \(party): the envelope claims party \(claimed) but the certificate says \(party)"
        case .aggregatorRefused(let party, let reason):
            return "party \(party) refuses: the aggregator \(reason)"
        case .configuration(let reason), .contribution(let reason), .noise(let reason), .internalState(let reason):
            return reason
        case .storage(let path, let reason):
            return "\(path): \(reason)"
        case .output(let file, let reason):
            return "\(file): \(reason)"
        case .catalogRefused(let party, let reason):
            return "party \(party)'s catalog is refused: \(reason)"
        case .catalogQueryRefused(let party, let reason):
            return "party \(party)'s catalog query is refused: \(reason)"
        }
    }
}
