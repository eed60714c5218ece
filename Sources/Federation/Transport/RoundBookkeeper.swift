import DifferentialPrivacy
import Primitives

/// Performs a round engine's effects: the ledger and round-store writes here, in order, and the
/// messages handed back for the transport to send. A write that fails goes back to the engine;
/// what it answers replaces the rest of the batch, so that nothing queued after a failed write
/// (a share that opens the sum, a result) ever leaves.
public struct RoundBookkeeper: Sendable {
    public let ledger: PrivacyLedger
    public let store: RoundStore?

    public init(ledger: PrivacyLedger, store: RoundStore? = nil) {
        self.ledger = ledger
        self.store = store
    }

    /// Performs `effects` on behalf of `engine` and returns the messages to send, in order.
    public func perform<Engine: RoundEngine>(
        _ effects: [RoundEffect<Engine.Message>], on engine: inout Engine,
        using generator: inout some RandomNumberGenerator
    ) -> [Engine.Message] {
        var queue = effects[...]
        var messages: [Engine.Message] = []
        while let effect = queue.popFirst() {
            do {
                switch effect {
                case .send(let message):
                    messages.append(message)
                case .reserve(let charge, let cap):
                    let result = Result { try reserve(charge, cap: cap) }
                    queue = (engine.reserved(result, using: &generator) + queue)[...]
                case .commit(let reservation):
                    try ledger.commit(reservation)
                case .cancel(let reservation):
                    try ledger.cancel(reservation)
                case .persist(let record):
                    try store?.save(record)
                case .markReleased(let record):
                    try store?.markReleased(record)
                }
            } catch {
                if let replacement = engine.failed(effect, error: error) { queue = replacement[...] }
            }
        }
        return messages
    }

    /// Settles a party's ledger after its stream broke (``PartyRound/connectionLost(reason:)``)
    /// and says how.
    public func connectionLost(_ engine: inout PartyRound, reason: String) -> PartyRound.LossSettlement {
        var random = SecureRandom()
        _ = perform(engine.connectionLost(reason: reason), on: &engine, using: &random)
        return engine.settlement ?? .nothingReserved
    }

    /// Reserves `charge`, setting the dataset's cap from the manifest's budget first if the
    /// ledger has none (a cap already there, the owner's own, is never raised).
    func reserve(_ charge: PrivacyCharge, cap: LedgerCap) throws -> Reservation {
        if (try? ledger.budget(dataset: cap.dataset))?.capEpsilon == nil {
            try ledger.setCap(dataset: cap.dataset, epsilon: cap.epsilon, delta: cap.delta)
        }
        return try ledger.reserve(charge)
    }
}
