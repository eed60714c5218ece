import DifferentialPrivacy

/// What a round engine asks its runtime to do, in order. The engines write nothing themselves:
/// the runtime performs each effect against the privacy ledger, the round store or the stream
/// (``RoundBookkeeper``), and hands a write that fails back to the engine
/// (``RoundEngine/failed(_:error:)``), which then decides what becomes of the round.
public enum RoundEffect<Message: Sendable>: Sendable {
    /// Reserve `charge` in the ledger, first setting the dataset's cap to `cap` when it has none.
    /// The runtime answers with ``RoundEngine/reserved(_:using:)``.
    case reserve(PrivacyCharge, cap: LedgerCap)
    /// Commit a reservation: the charge counts as spent.
    case commit(Reservation)
    /// Cancel a reservation: nothing of the data was released.
    case cancel(Reservation)
    /// Record the round's state in the round store (the aggregator's).
    case persist(RoundRecord)
    /// Record that the round released its result (the aggregator's).
    case markReleased(RoundRecord)
    /// Send a message; it leaves only when every effect before it succeeded.
    case send(Message)
}

/// The privacy budget a ledger takes from the manifest when it has none of its own.
public struct LedgerCap: Sendable, Equatable {
    public var dataset: String
    public var epsilon: Double
    public var delta: Double
}

/// A round engine: a state machine whose inputs return effects.
public protocol RoundEngine {
    associatedtype Message: Sendable
    /// The ledger answered a ``RoundEffect/reserve(_:cap:)``.
    mutating func reserved(_ result: Result<Reservation, any Error>, using generator: inout some RandomNumberGenerator) -> [RoundEffect<Message>]
    /// An effect failed. Returns the effects that replace the rest of the batch, or nil when the
    /// batch goes on (the engine noted the failure).
    mutating func failed(_ effect: RoundEffect<Message>, error: any Error) -> [RoundEffect<Message>]?
}
