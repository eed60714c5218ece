import Primitives

/// The outcome of a completed round.
public struct SecAggResult: Sendable, Hashable, Codable {
    /// Σ inputs of the contributors, mod 2^64 (decode with `FixedPointCodec.decodeFromRing64`).
    public let sum: [UInt64]
    /// The parties whose masked input was counted (U3), in id order.
    public let contributors: [Int]
    /// Each party that dropped, with the phase it failed to complete.
    public let dropouts: [Int: SecAggPhase]
}

/// The aggregator's side of a round, as a state machine without sockets: feed it client
/// messages with `receive(_:)`, and call `closePhase()` when the phase's deadline passes; send
/// what both return. A phase also closes by itself once every expected party has answered.
///
/// Dropouts are recorded per party with the phase they missed; the round proceeds while at
/// least t parties remain and every needed secret has t shares, and otherwise aborts with a
/// reason that names the missing parties (and tells the remaining clients so).
///
/// With `configuration.consistencyCheck`, masked-input collection is followed by the
/// consistency phase: the survivors U3 are sent to each of them, their signatures collected
/// (U4 ⊆ U3, at least t, else abort), and the unmasking request — U3 alive, U2 \ U3 dead, the
/// signatures — goes to U4. Given a verifier, the server checks advertised-key and survivor
/// signatures itself and rejects a bad one as a malformed message (that party then counts as
/// dropped), so that one party cannot make every honest client abort; without one, the clients'
/// own checks still stop the round.
public struct SecAggServer: Sendable {
    public enum State: Sendable, Equatable {
        case collecting(SecAggPhase)
        case completed(SecAggResult)
        case aborted(SecAggError)
    }

    public let configuration: SecAggConfiguration
    public private(set) var state: State = .collecting(.advertiseKeys)
    /// Parties that dropped, and the phase each one missed.
    public private(set) var dropouts: [Int: SecAggPhase] = [:]

    private var keys: [Int: AdvertisedKeys] = [:]
    private var keyOwners: [KeyFingerprint: Int] = [:]
    private var sessionID: [UInt8] = []
    private var graph: SharingGraph?
    /// U1, U2, U3 in turn: the parties expected to answer the current phase.
    private var expected: Set<Int> = []
    private var shares: [Int: [EncryptedShare]] = [:]
    private var aliveAtShares: Set<Int> = []  // U2
    private var sum: [UInt64] = []
    private var contributors: Set<Int> = []  // U3
    private var deadAtMasking: Set<Int> = []  // U2 \ U3
    private var responses: [Int: UnmaskingResponse] = [:]
    private var survivorSignatures: [Int: [UInt8]] = [:]  // U4
    private let verifier: SecAggAuthenticator.Verify?

    /// - Parameter verifier: optional; checks each party's signatures (advertised keys, and the
    ///   survivor set with the consistency check) as they arrive. Nil: the server relays them
    ///   unchecked and leaves the checks to the clients.
    public init(configuration: SecAggConfiguration, verifier: SecAggAuthenticator.Verify? = nil) {
        self.configuration = configuration
        self.verifier = verifier
        expected = Set(0..<configuration.parties)
    }

    /// The result once the round has completed.
    public var result: SecAggResult? {
        if case .completed(let result) = state { return result }
        return nil
    }

    /// Why the round was aborted, if it was.
    public var abortReason: SecAggError? {
        if case .aborted(let reason) = state { return reason }
        return nil
    }

    /// The session id (empty before the key directory goes out).
    public var currentSessionID: [UInt8] { sessionID }

    /// Handles one client message. Returns the messages to send when it completes a phase.
    /// - Throws: a named rejection (malformed, duplicated, out-of-order, foreign session,
    ///   unknown party); the message is then ignored and the round state is unchanged.
    public mutating func receive(_ message: ClientMessage) throws -> [Addressed<ServerMessage>] {
        guard case .collecting(let phase) = state else {
            throw SecAggError.roundFinished(result != nil ? "completed" : "aborted")
        }
        let sender = message.sender
        guard (0..<configuration.parties).contains(sender) else { throw SecAggError.unknownParty(sender) }
        guard message.phase == phase else {
            if message.phase.rank < phase.rank, hasAnswered(sender, message.phase) {
                throw SecAggError.duplicateMessage(party: sender, kind: message.phase.rawValue)
            }
            throw SecAggError.unexpectedMessage(party: sender, received: message.phase.rawValue, expected: phase.rawValue)
        }
        guard expected.contains(sender) else {
            if hasAnswered(sender, phase) { throw SecAggError.duplicateMessage(party: sender, kind: phase.rawValue) }
            throw SecAggError.unexpectedMessage(party: sender, received: phase.rawValue, expected: "nothing from a party that dropped")
        }
        switch message {
        case .advertiseKeys(let advertise): try accept(advertise)
        case .shareKeys(let shareKeys): try accept(shareKeys)
        case .maskedInput(let masked): try accept(masked)
        case .survivorSignature(let signature): try accept(signature)
        case .unmaskingResponse(let response): try accept(response)
        }
        expected.remove(sender)
        return expected.isEmpty ? try closePhase() : []
    }

    private func hasAnswered(_ party: Int, _ phase: SecAggPhase) -> Bool {
        switch phase {
        case .advertiseKeys: return keys[party] != nil
        case .shareKeys: return shares[party] != nil
        case .maskedInput: return contributors.contains(party)
        case .consistencyCheck: return survivorSignatures[party] != nil
        case .unmasking: return responses[party] != nil
        }
    }

    // MARK: Accepting messages

    private mutating func accept(_ message: AdvertiseKeys) throws {
        let party = message.keys.party
        guard message.round == configuration.round else { throw SecAggError.wrongSession(party: party, what: "round") }
        guard message.sessionNonce == configuration.sessionNonce else { throw SecAggError.wrongSession(party: party, what: "session nonce") }
        for key in [message.keys.maskPublicKey, message.keys.channelPublicKey] {
            guard SessionCrypto.isAcceptablePublicKey(key) else {
                throw SecAggError.malformed(what: "public key of party \(party)", reason: "not a usable 32-byte X25519 key")
            }
        }
        guard message.keys.maskPublicKey != message.keys.channelPublicKey else {
            throw SecAggError.duplicatePublicKey(party: party, sameAs: party)
        }
        for key in [message.keys.maskPublicKey, message.keys.channelPublicKey] {
            if let other = keyOwners[KeyFingerprint(key)] { throw SecAggError.duplicatePublicKey(party: party, sameAs: other) }
        }
        if let verifier {
            guard !message.keys.signature.isEmpty,
                verifier(party, message.keys.credential, SecAggTranscript.advertisedKeys(message.keys, configuration: configuration), message.keys.signature)
            else {
                throw SecAggError.malformed(what: "advertised keys of party \(party)", reason: "the signature is missing or does not verify")
            }
        }
        keyOwners[KeyFingerprint(message.keys.maskPublicKey)] = party
        keyOwners[KeyFingerprint(message.keys.channelPublicKey)] = party
        keys[party] = message.keys
    }

    private mutating func accept(_ message: ShareKeys) throws {
        let sender = message.sender
        guard message.sessionID == sessionID else { throw SecAggError.wrongSession(party: sender, what: "session id") }
        guard let graph else { throw SecAggError.roundFinished("without a graph") }
        // Exactly one ciphertext for each live neighbour: a client that left one out would
        // mask with peers that do not mask with it.
        let wanted = Set(graph.neighbours(of: sender).filter { keys[$0] != nil })
        var seen: Set<Int> = []
        for share in message.shares {
            guard share.sender == sender else {
                throw SecAggError.malformed(what: "shares of party \(sender)", reason: "a share claims sender \(share.sender)")
            }
            guard wanted.contains(share.recipient) else {
                throw SecAggError.malformed(what: "shares of party \(sender)", reason: "party \(share.recipient) is not a live neighbour")
            }
            guard seen.insert(share.recipient).inserted else {
                throw SecAggError.malformed(what: "shares of party \(sender)", reason: "two shares for party \(share.recipient)")
            }
            guard share.ciphertext.count == SessionCrypto.shareCiphertextLength else {
                throw SecAggError.malformed(
                    what: "share from party \(sender) to party \(share.recipient)",
                    reason: "expected \(SessionCrypto.shareCiphertextLength) bytes, found \(share.ciphertext.count)")
            }
        }
        guard seen == wanted else {
            let missing = wanted.subtracting(seen).sorted().map(String.init).joined(separator: ", ")
            throw SecAggError.malformed(what: "shares of party \(sender)", reason: "no share for live neighbour(s) \(missing)")
        }
        shares[sender] = message.shares
    }

    private mutating func accept(_ message: MaskedInput) throws {
        let sender = message.sender
        guard message.sessionID == sessionID else { throw SecAggError.wrongSession(party: sender, what: "session id") }
        guard message.vector.count == configuration.vectorLength else {
            throw SecAggError.malformed(
                what: "masked input of party \(sender)",
                reason: "expected \(configuration.vectorLength) words, found \(message.vector.count)")
        }
        if sum.isEmpty { sum = [UInt64](repeating: 0, count: configuration.vectorLength) }
        sum.withUnsafeMutableBufferPointer { total in
            message.vector.withUnsafeBufferPointer { vector in
                for index in 0..<total.count { total[index] &+= vector[index] }
            }
        }
        contributors.insert(sender)
    }

    private mutating func accept(_ message: SurvivorSignature) throws {
        let sender = message.sender
        guard message.sessionID == sessionID else { throw SecAggError.wrongSession(party: sender, what: "session id") }
        guard !message.signature.isEmpty else {
            throw SecAggError.malformed(what: "survivor signature of party \(sender)", reason: "empty")
        }
        if let verifier {
            let transcript = SecAggTranscript.survivorSet(sessionID: sessionID, survivors: contributors.sorted())
            guard verifier(sender, keys[sender]?.credential ?? [], transcript, message.signature) else {
                throw SecAggError.malformed(what: "survivor signature of party \(sender)", reason: "does not verify over the survivor set")
            }
        }
        survivorSignatures[sender] = message.signature
    }

    private mutating func accept(_ message: UnmaskingResponse) throws {
        let sender = message.sender
        guard message.sessionID == sessionID else { throw SecAggError.wrongSession(party: sender, what: "session id") }
        guard let graph else { throw SecAggError.roundFinished("without a graph") }
        var owners: Set<Int> = []
        func check(_ revealed: [RevealedShare], allowed: Set<Int>, kind: String) throws {
            for share in revealed {
                guard owners.insert(share.owner).inserted else {
                    throw SecAggError.malformed(what: "unmasking response of party \(sender)", reason: "two shares for party \(share.owner)")
                }
                guard allowed.contains(share.owner), share.owner == sender || graph.areNeighbours(sender, share.owner) else {
                    throw SecAggError.malformed(what: "unmasking response of party \(sender)", reason: "unexpected \(kind) share for party \(share.owner)")
                }
                guard Shamir.Share(x: UInt64(sender) + 1, encoded: share.share) != nil else {
                    throw SecAggError.malformed(
                        what: "\(kind) share of party \(share.owner) from party \(sender)", reason: "not \(Shamir.shareLength) bytes of field elements")
                }
            }
        }
        try check(message.seedShares, allowed: contributors, kind: "seed")
        try check(message.maskKeyShares, allowed: deadAtMasking, kind: "mask-key")
        responses[sender] = message
    }

    // MARK: Closing phases

    /// Ends the current phase (its deadline passed): parties that did not answer are recorded
    /// as dropped, and the round moves on, or aborts below the threshold.
    public mutating func closePhase() throws -> [Addressed<ServerMessage>] {
        guard case .collecting(let phase) = state else {
            throw SecAggError.roundFinished(result != nil ? "completed" : "aborted")
        }
        for party in expected { dropouts[party] = phase }
        let missing = expected.sorted()
        expected = []
        switch phase {
        case .advertiseKeys: return closeAdvertise(missing: missing)
        case .shareKeys: return closeShareKeys(missing: missing)
        case .maskedInput: return closeMaskedInput(missing: missing)
        case .consistencyCheck: return closeConsistencyCheck(missing: missing)
        case .unmasking: return closeUnmasking(missing: missing)
        }
    }

    private mutating func abort(_ reason: SecAggError, notify parties: some Sequence<Int>) -> [Addressed<ServerMessage>] {
        state = .aborted(reason)
        sum = []
        let notice = ServerMessage.abort(RoundAbort(round: configuration.round, reason: reason.description))
        return parties.sorted().map { Addressed(recipient: $0, message: notice) }
    }

    private mutating func closeAdvertise(missing: [Int]) -> [Addressed<ServerMessage>] {
        let alive = Set(keys.keys)
        guard alive.count >= configuration.threshold else {
            return abort(
                .tooFewParties(
                    phase: .advertiseKeys, remaining: alive.count, needed: configuration.threshold,
                    missing: dropouts.keys.sorted()), notify: alive)
        }
        let directoryKeys = keys.keys.sorted().compactMap { keys[$0] }
        sessionID = SessionCrypto.sessionID(configuration: configuration, keys: directoryKeys)
        do {
            graph = try SharingGraph(configuration: configuration, sessionID: sessionID)
        } catch {
            return abort(.malformed(what: "sharing graph", reason: "\(error)"), notify: alive)
        }
        expected = alive
        state = .collecting(.shareKeys)
        let directory = ServerMessage.keyDirectory(KeyDirectory(round: configuration.round, sessionID: sessionID, keys: directoryKeys))
        return alive.sorted().map { Addressed(recipient: $0, message: directory) }
    }

    private mutating func closeShareKeys(missing: [Int]) -> [Addressed<ServerMessage>] {
        aliveAtShares = Set(shares.keys)
        guard aliveAtShares.count >= configuration.threshold else {
            return abort(
                .tooFewParties(
                    phase: .shareKeys, remaining: aliveAtShares.count, needed: configuration.threshold,
                    missing: dropouts.keys.sorted()), notify: aliveAtShares)
        }
        var inbox: [Int: [EncryptedShare]] = [:]
        for sender in aliveAtShares.sorted() {
            for share in shares[sender] ?? [] where aliveAtShares.contains(share.recipient) {
                inbox[share.recipient, default: []].append(share)
            }
        }
        shares = shares.mapValues { _ in [] }  // ciphertexts are no longer needed
        expected = aliveAtShares
        state = .collecting(.maskedInput)
        return aliveAtShares.sorted().map {
            Addressed(recipient: $0, message: .forwardedShares(ForwardedShares(sessionID: sessionID, recipient: $0, shares: inbox[$0] ?? [])))
        }
    }

    private mutating func closeMaskedInput(missing: [Int]) -> [Addressed<ServerMessage>] {
        guard contributors.count >= configuration.threshold else {
            return abort(
                .tooFewParties(
                    phase: .maskedInput, remaining: contributors.count, needed: configuration.threshold,
                    missing: dropouts.keys.sorted()), notify: contributors)
        }
        deadAtMasking = aliveAtShares.subtracting(contributors)
        expected = contributors
        if configuration.consistencyCheck {
            state = .collecting(.consistencyCheck)
            let survivors = ServerMessage.survivorSet(SurvivorSet(sessionID: sessionID, survivors: contributors.sorted()))
            return contributors.sorted().map { Addressed(recipient: $0, message: survivors) }
        }
        state = .collecting(.unmasking)
        let request = ServerMessage.unmaskingRequest(UnmaskingRequest(sessionID: sessionID, alive: contributors.sorted(), dead: deadAtMasking.sorted()))
        return contributors.sorted().map { Addressed(recipient: $0, message: request) }
    }

    private mutating func closeConsistencyCheck(missing: [Int]) -> [Addressed<ServerMessage>] {
        let signers = Set(survivorSignatures.keys)  // U4
        guard signers.count >= configuration.threshold else {
            return abort(
                .tooFewParties(
                    phase: .consistencyCheck, remaining: signers.count, needed: configuration.threshold,
                    missing: dropouts.keys.sorted()), notify: contributors)
        }
        expected = signers
        state = .collecting(.unmasking)
        let signatures = survivorSignatures.sorted { $0.key < $1.key }.map { SignedSurvivor(party: $0.key, signature: $0.value) }
        let request = ServerMessage.unmaskingRequest(
            UnmaskingRequest(
                sessionID: sessionID, alive: contributors.sorted(),
                dead: deadAtMasking.sorted(), signatures: signatures))
        return signers.sorted().map { Addressed(recipient: $0, message: request) }
    }

    private mutating func closeUnmasking(missing: [Int]) -> [Addressed<ServerMessage>] {
        let responders = Set(responses.keys)
        let threshold = configuration.threshold
        guard responders.count >= threshold, let graph else {
            return abort(
                .tooFewParties(
                    phase: .unmasking, remaining: responders.count, needed: threshold,
                    missing: dropouts.keys.sorted()), notify: responders)
        }
        // Gather shares per owner.
        var seedShares: [Int: [Shamir.Share]] = [:]
        var keyShares: [Int: [Shamir.Share]] = [:]
        for (sender, response) in responses.sorted(by: { $0.key < $1.key }) {
            let point = UInt64(sender) + 1
            for revealed in response.seedShares {
                if let share = Shamir.Share(x: point, encoded: revealed.share) { seedShares[revealed.owner, default: []].append(share) }
            }
            for revealed in response.maskKeyShares {
                if let share = Shamir.Share(x: point, encoded: revealed.share) { keyShares[revealed.owner, default: []].append(share) }
            }
        }
        var terms: [MaskExpander.Term] = []
        do {
            for owner in contributors.sorted() {
                let available = seedShares[owner] ?? []
                guard available.count >= threshold else {
                    let silent = ([owner] + graph.neighbours(of: owner)).filter { contributors.contains($0) && !responders.contains($0) }
                    return abort(
                        .tooFewParties(phase: .unmasking, remaining: available.count, needed: threshold, missing: silent),
                        notify: responders)
                }
                var seed = try Shamir.reconstruct(available, threshold: threshold)
                defer { seed.withUnsafeMutableBytes { memsetZero($0.baseAddress!, $0.count) } }
                // Remove the self mask: subtract PRG(b_u).
                terms.append(
                    MaskExpander.Term(
                        key: try SessionCrypto.selfMaskKey(seed: seed, sessionID: sessionID, configuration: configuration, owner: owner),
                        subtract: true))
            }
            for owner in deadAtMasking.sorted() {
                let available = keyShares[owner] ?? []
                guard available.count >= threshold else {
                    let silent = graph.neighbours(of: owner).filter { contributors.contains($0) && !responders.contains($0) }
                    return abort(
                        .tooFewParties(phase: .unmasking, remaining: available.count, needed: threshold, missing: silent),
                        notify: responders)
                }
                let raw = try Shamir.reconstruct(available, threshold: threshold)
                let privateKey = try KeyAgreementKey(rawRepresentation: raw)
                guard let advertised = keys[owner], privateKey.publicKey == advertised.maskPublicKey else {
                    return abort(.reconstructedKeyMismatch(owner: owner), notify: responders)
                }
                // Survivor u added +PRG(s_uv) if v < u, −PRG(s_uv) if v > u: apply the opposite.
                for survivor in graph.neighbours(of: owner) where contributors.contains(survivor) {
                    guard let survivorKeys = keys[survivor] else { continue }
                    let secret = try privateKey.sharedSecret(with: survivorKeys.maskPublicKey)
                    let key = try SessionCrypto.pairwiseMaskKey(sharedSecret: secret, sessionID: sessionID, configuration: configuration, owner, survivor)
                    terms.append(MaskExpander.Term(key: key, subtract: owner < survivor))
                }
            }
            try MaskExpander.apply(terms, to: &sum)
        } catch let error as SecAggError {
            return abort(error, notify: responders)
        } catch {
            return abort(.malformed(what: "unmasking shares", reason: "\(error)"), notify: responders)
        }
        let result = SecAggResult(sum: sum, contributors: contributors.sorted(), dropouts: dropouts)
        sum = []
        responses = [:]
        state = .completed(result)
        return []
    }
}

extension SecAggPhase {
    var rank: Int {
        switch self {
        case .advertiseKeys: return 0
        case .shareKeys: return 1
        case .maskedInput: return 2
        case .consistencyCheck: return 3
        case .unmasking: return 4
        }
    }
}
