import Foundation

/// Everything that can go wrong in the DifferentialPrivacy module, each with one line that says
/// what was wrong and where.
public enum DifferentialPrivacyError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// A parameter (named) is outside its valid range.
    case invalidParameter(name: String, value: String, reason: String)
    /// An event kind (mechanism, neighbouring relation, accountant) the accountant does not know.
    case unknownKind(field: String, value: String)
    /// The accountant cannot bound this history (e.g. advanced composition of Gaussian events).
    case notApplicable(accountant: String, reason: String)
    /// A charge would exceed the dataset's cap.
    case capExceeded(dataset: String, epsilon: Double, delta: Double, capEpsilon: Double, capDelta: Double, spentEpsilon: Double)
    /// A charge would exceed the cap of the analyst it is for (the dataset's cap allowed it).
    case analystCapExceeded(
        dataset: String, analyst: String, epsilon: Double, delta: Double, capEpsilon: Double, capDelta: Double, spentEpsilon: Double)
    /// No cap has been set for the dataset: charges are refused until one is.
    case noCap(dataset: String)
    /// A reservation id that is not pending (unknown, already committed or cancelled).
    case reservationNotPending(id: Int64, state: String)
    /// The hash chain is broken; `row` names the first bad row.
    case brokenChain(row: Int64, reason: String)
    /// The ledger file could not be opened or written.
    case ledger(path: String, reason: String)
    /// No ledger file at the path, and the caller only reads or settles (never creates).
    case noLedger(path: String)

    public var description: String {
        switch self {
        case .invalidParameter(let name, let value, let reason):
            return "\(name) = \(value): \(reason)"
        case .unknownKind(let field, let value):
            return "unknown \(field) '\(value)': refused rather than guessed"
        case .notApplicable(let accountant, let reason):
            return "the \(accountant) accountant does not apply: \(reason)"
        case .capExceeded(let dataset, let epsilon, let delta, let capEpsilon, let capDelta, let spent):
            return
                "dataset '\(dataset)': refused: this charge would bring spending to ε = \(epsilon) (δ = \(delta)), above the cap ε = \(capEpsilon), δ = \(capDelta) (already spent or reserved: ε = \(spent))"
        case .analystCapExceeded(let dataset, let analyst, let epsilon, let delta, let capEpsilon, let capDelta, let spent):
            return
                "dataset '\(dataset)': refused for analyst \(analyst): this charge would bring analyst \(analyst)'s spending to ε = \(epsilon) (δ = \(delta)), above analyst \(analyst)'s cap ε = \(capEpsilon), δ = \(capDelta) (already spent or reserved for analyst \(analyst): ε = \(spent))"
        case .noCap(let dataset):
            return "dataset '\(dataset)': no cap set; set one first (fedshare budget --set-cap \(dataset) --epsilon E --delta D)"
        case .reservationNotPending(let id, let state):
            return "reservation \(id) is \(state), not pending"
        case .brokenChain(let row, let reason):
            return "ledger row \(row): \(reason)"
        case .ledger(let path, let reason):
            return "\(path): \(reason)"
        case .noLedger(let path):
            return "no ledger at \(path)"
        }
    }

    public var errorDescription: String? { description }
}
