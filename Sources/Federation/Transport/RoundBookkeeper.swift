import DifferentialPrivacy
import Manifest
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
        try setCapIfNone(cap)
        return try ledger.reserve(charge)
    }

    /// Refuses a charge the ledger would not admit now: the dataset's cap, and the cap of the
    /// analyst the charge names (set from the manifest's `[analysts]` first when the ledger has
    /// none for that analyst). The aggregator asks before any party hears of a request; the
    /// reservation at the round's open checks again, atomically.
    /// - Throws: ``FederationError/requestRefused(_:)`` naming the cap.
    func checkAdmissible(_ charge: PrivacyCharge, cap: LedgerCap, analystCap: FederationManifest.AnalystCap?) throws {
        try setCapIfNone(cap)
        if let analystCap, !charge.analyst.isEmpty, try ledger.analystCap(dataset: cap.dataset, analyst: charge.analyst) == nil {
            try ledger.setAnalystCap(dataset: cap.dataset, analyst: charge.analyst, epsilon: analystCap.epsilon, delta: analystCap.delta)
        }
        let preview = try ledger.preview(charge)
        if preview.analystAllowed == false, let capEpsilon = preview.analystCapEpsilon {
            throw FederationError.requestRefused(
                "analyst \(charge.analyst)'s cap of ε = \(capEpsilon), δ = \(preview.analystCapDelta ?? 0) on \(cap.dataset) refuses it: "
                    + "with this release (ε = \(preview.charge.epsilon)) the analyst would have spent ε = \(preview.analystAfter?.epsilon ?? .infinity)")
        }
        guard preview.datasetAllowed else {
            throw FederationError.requestRefused(
                "the federation's cap of ε = \(preview.capEpsilon ?? 0), δ = \(preview.capDelta ?? 0) on \(cap.dataset) refuses it: "
                    + "with this release (ε = \(preview.charge.epsilon)) the federation would have spent ε = \(preview.after.epsilon)")
        }
    }

    private func setCapIfNone(_ cap: LedgerCap) throws {
        if (try? ledger.budget(dataset: cap.dataset))?.capEpsilon == nil {
            try ledger.setCap(dataset: cap.dataset, epsilon: cap.epsilon, delta: cap.delta)
        }
    }
}
