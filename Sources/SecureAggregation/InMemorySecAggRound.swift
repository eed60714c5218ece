/// Runs one whole round in memory: a server and n clients exchanging messages directly, with
/// dropouts injected at chosen points. Used by tests, `fedshare bench secagg` and simulations
/// that need no network. Real cryptography throughout.
public struct InMemorySecAggRound: Sendable {
    /// Where a party stops answering, as if its machine died.
    public enum DropPoint: String, Sendable, Hashable, Codable, CaseIterable {
        /// Never advertises keys.
        case beforeAdvertise
        /// Advertises keys, then sends no shares.
        case duringShareKeys
        /// Sends its shares, then no masked input.
        case duringMaskedInput
        /// Sends its masked input, then no survivor-set signature (consistency check). Without
        /// the check it acts as `duringUnmasking`, but is recorded at the unmasking phase.
        case duringConsistencyCheck
        /// Sends its masked input, then never answers the unmasking request.
        case duringUnmasking

        /// The drop point for a `--drop PARTY@PHASE` phase name: advertise, share, contribute,
        /// unmask (or decrypt); nil for anything else.
        public init?(phaseName: String) {
            switch phaseName {
            case "advertise": self = .beforeAdvertise
            case "share": self = .duringShareKeys
            case "contribute": self = .duringMaskedInput
            case "check": self = .duringConsistencyCheck
            case "unmask", "decrypt": self = .duringUnmasking
            default: return nil
            }
        }

        /// The phase the party fails to complete.
        public var phase: SecAggPhase {
            switch self {
            case .beforeAdvertise: return .advertiseKeys
            case .duringShareKeys: return .shareKeys
            case .duringMaskedInput: return .maskedInput
            case .duringConsistencyCheck: return .consistencyCheck
            case .duringUnmasking: return .unmasking
            }
        }
    }

    /// What happened, with timings (seconds) and traffic.
    public struct Report: Sendable {
        /// The result, when the round completed.
        public let result: SecAggResult?
        /// The server's reason, when it aborted.
        public let abortReason: SecAggError?
        /// Clients that aborted themselves, with their reason.
        public let clientAborts: [Int: SecAggError]
        /// Per client: time spent computing the masked input (key agreement + mask expansion).
        public let maskingSeconds: [Double]
        /// Per client: all its computation in the round (key generation, shares, masking, unmasking reply).
        public let clientSeconds: [Double]
        /// Per client: payload bytes sent.
        public let bytesSent: [Int]
        /// Server: time to reconstruct the secrets and remove the masks.
        public let unmaskingSeconds: Double
        /// Server: all its computation.
        public let serverSeconds: Double
        /// The whole round, start to finish, on one machine.
        public let wallSeconds: Double
    }

    public let configuration: SecAggConfiguration
    public let inputs: [[UInt64]]
    public let dropouts: [Int: DropPoint]
    public let authenticators: [SecAggAuthenticator]?
    public let verifier: SecAggAuthenticator.Verify?

    /// - Parameters:
    ///   - inputs: one vector per party (`configuration.parties` of them).
    ///   - dropouts: the parties that stop answering, and where.
    ///   - authenticators: one per party (signed keys; needed for the consistency check), or nil.
    ///   - verifier: the server's optional verifier (see `SecAggServer.init`).
    public init(
        configuration: SecAggConfiguration, inputs: [[UInt64]], dropouts: [Int: DropPoint] = [:],
        authenticators: [SecAggAuthenticator]? = nil, verifier: SecAggAuthenticator.Verify? = nil
    ) throws {
        if let authenticators, authenticators.count != configuration.parties {
            throw SecAggError.invalidConfiguration("\(authenticators.count) authenticators for \(configuration.parties) parties")
        }
        guard inputs.count == configuration.parties else {
            throw SecAggError.invalidConfiguration("\(inputs.count) input vectors for \(configuration.parties) parties")
        }
        for party in dropouts.keys where !(0..<configuration.parties).contains(party) {
            throw SecAggError.unknownParty(party)
        }
        self.configuration = configuration
        self.inputs = inputs
        self.dropouts = dropouts
        self.authenticators = authenticators
        self.verifier = verifier
    }

    /// Runs the round.
    /// - Throws: only on a programming error (an honest party's message rejected); protocol
    ///   aborts are reported in the `Report`.
    public func run(using rng: inout some RandomNumberGenerator) throws -> Report {
        let clock = ContinuousClock()
        let start = clock.now
        let n = configuration.parties
        var clientTime = [Duration](repeating: .zero, count: n)
        var maskingTime = [Duration](repeating: .zero, count: n)
        var bytes = [Int](repeating: 0, count: n)
        var serverTime = Duration.zero
        var unmaskingTime = Duration.zero
        var clientAborts: [Int: SecAggError] = [:]

        var clients: [SecAggClient] = []
        for party in 0..<n {
            var client: SecAggClient?
            clientTime[party] += try clock.measure {
                client = try SecAggClient(
                    id: party, configuration: configuration, input: inputs[party], using: &rng,
                    authenticator: authenticators?[party])
            }
            if let client { clients.append(client) }
        }
        var server = SecAggServer(configuration: configuration, verifier: verifier)

        func sends(_ party: Int, _ phase: SecAggPhase) -> Bool {
            guard let drop = dropouts[party] else { return true }
            return phase.rank < drop.phase.rank
        }

        // Round 0.
        var outbound: [ClientMessage] = []
        for party in 0..<n where sends(party, .advertiseKeys) {
            let message = clients[party].advertiseKeys()
            bytes[party] += message.payloadSize
            outbound.append(message)
        }
        let phases = SecAggPhase.allCases.filter { configuration.consistencyCheck || $0 != .consistencyCheck }
        for phase in phases {
            var inbound: [Addressed<ServerMessage>] = []
            for message in outbound {
                let isFinal = phase == .unmasking
                let elapsed = try clock.measure { inbound += try server.receive(message) }
                serverTime += elapsed
                if isFinal { unmaskingTime += elapsed }
            }
            if case .collecting(let current) = server.state, current == phase {
                let elapsed = try clock.measure { inbound += try server.closePhase() }
                serverTime += elapsed
                if phase == .unmasking { unmaskingTime += elapsed }
            }
            outbound = []
            for delivery in inbound {
                let party = delivery.recipient
                // A dead machine receives nothing.
                if let drop = dropouts[party], drop.phase.rank <= phase.rank { continue }
                var reply: ClientMessage?
                do {
                    let elapsed = try clock.measure { reply = try clients[party].receive(delivery.message) }
                    clientTime[party] += elapsed
                    if case .forwardedShares = delivery.message { maskingTime[party] += elapsed }
                } catch let error as SecAggError {
                    clientAborts[party] = error
                    continue
                }
                if let reply, sends(party, reply.phase) {
                    bytes[party] += reply.payloadSize
                    outbound.append(reply)
                }
            }
            if case .collecting = server.state { continue }
            break
        }
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        }
        return Report(
            result: server.result, abortReason: server.abortReason, clientAborts: clientAborts,
            maskingSeconds: maskingTime.map(seconds), clientSeconds: clientTime.map(seconds),
            bytesSent: bytes, unmaskingSeconds: seconds(unmaskingTime), serverSeconds: seconds(serverTime),
            wallSeconds: seconds(clock.now - start))
    }
}
