/// Everything the federation runtime refuses, each with one actionable line.
public enum FederationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The round's parameters do not match this side's manifest or key.
    case parameterMismatch(field: String, expected: String, found: String)
    /// A message arrived that this phase does not expect.
    case unexpectedMessage(party: Int?, received: String, phase: String)
    /// A message or contribution is malformed.
    case malformed(party: Int?, reason: String)
    /// The aggregator asked for something the protocol forbids (a second opening, a sum that is
    /// not the round's, a forged or unsigned set): the party refuses and names it.
    case aggregatorRefused(party: Int, reason: String)
    /// A configuration problem (bad threshold, unknown party, no key for Paillier mode…).
    case configuration(String)
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
        case .aggregatorRefused(let party, let reason):
            return "party \(party) refuses: the aggregator \(reason)"
        case .configuration(let reason):
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
