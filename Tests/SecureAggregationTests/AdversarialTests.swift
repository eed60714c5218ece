import Primitives
import Testing

@testable import SecureAggregation

/// Drives clients and a server by hand, so that tests can tamper with, replay, reorder and
/// forge the messages between them.
struct Harness {
    var config: SecAggConfiguration
    var clients: [SecAggClient]
    var server: SecAggServer
    var inputs: [[UInt64]]

    /// - Parameters:
    ///   - checked: an authenticated round with the consistency check (`FakeSigner` keys).
    ///   - serverVerifies: the server checks signatures too.
    init(
        parties: Int = 5, threshold: Int = 3, length: Int = 6, graph: SecAggGraph = .complete, seed: UInt64 = 42,
        sessionNonce: [UInt8] = [9, 9], round: UInt64 = 3, checked: Bool = false, serverVerifies: Bool = false
    ) throws {
        var rng = SeededRandom(seed: seed)
        let config = try SecAggConfiguration(
            parties: parties, threshold: threshold, vectorLength: length, graph: graph,
            sessionNonce: sessionNonce, round: round, consistencyCheck: checked)
        let inputs = randomInputs(parties: parties, length: length, rng: &rng)
        var clients: [SecAggClient] = []
        for party in 0..<parties {
            clients.append(
                try SecAggClient(
                    id: party, configuration: config, input: inputs[party], using: &rng,
                    authenticator: checked ? FakeSigner.authenticator(party) : nil))
        }
        self.config = config
        self.inputs = inputs
        self.clients = clients
        server = SecAggServer(configuration: config, verifier: serverVerifies ? FakeSigner.verify : nil)
    }

    /// Sends client messages to the server, returning what it emits.
    mutating func toServer(_ messages: [ClientMessage], close: Bool = false) throws -> [Addressed<ServerMessage>] {
        var out: [Addressed<ServerMessage>] = []
        for message in messages { out += try server.receive(message) }
        if close { out += try server.closePhase() }
        return out
    }

    /// Delivers server messages to clients, returning their replies.
    mutating func toClients(_ messages: [Addressed<ServerMessage>]) throws -> [ClientMessage] {
        try messages.compactMap { try clients[$0.recipient].receive($0.message) }
    }

    /// Runs the round honestly up to the unmasking request; returns the masked inputs' replies
    /// (the requests) without delivering them.
    mutating func runToUnmaskingRequests(dropAtMasking: Set<Int> = []) throws -> [Addressed<ServerMessage>] {
        let directories = try toServer(clients.map { $0.advertiseKeys() })
        let shareKeys = try toClients(directories)
        let forwarded = try toServer(shareKeys)
        let masked = try toClients(forwarded).filter { !dropAtMasking.contains($0.sender) }
        return try toServer(masked, close: !dropAtMasking.isEmpty)
    }
}

@Suite struct ClientCheckTests {
    /// Flower releases both shares of a peer listed as alive and dead; fedshare's clients refuse.
    @Test func equivocationIsRefused() throws {
        var harness = try Harness(parties: 5, threshold: 3)
        let requests = try harness.runToUnmaskingRequests()
        let honest = try #require(requests.first).message
        guard case .unmaskingRequest(let request) = honest else {
            Issue.record("no unmasking request")
            return
        }
        // The server lists party 4 as both alive and dead to get both its shares.
        let forged = UnmaskingRequest(sessionID: request.sessionID, alive: request.alive, dead: [4])
        for party in 0..<4 {
            #expect(throws: SecAggError.equivocation(party: party, peer: 4)) {
                try harness.clients[party].receive(.unmaskingRequest(forged))
            }
            #expect(harness.clients[party].state == .aborted(.equivocation(party: party, peer: 4)))
            // Once aborted it never answers, not even the honest request.
            #expect(throws: SecAggError.self) { try harness.clients[party].receive(honest) }
        }
    }

    @Test func unmaskingRequestChecks() throws {
        var harness = try Harness(parties: 6, threshold: 3)
        let requests = try harness.runToUnmaskingRequests(dropAtMasking: [5])
        guard case .unmaskingRequest(let request) = try #require(requests.first).message else { return }
        #expect(request.dead == [5])
        let sid = request.sessionID
        let cases: [(UnmaskingRequest, SecAggError)] = [
            (UnmaskingRequest(sessionID: sid, alive: [0, 1, 2, 3, 4], dead: [0, 5]), .equivocation(party: 0, peer: 0)),
            (UnmaskingRequest(sessionID: sid, alive: [1, 2, 3, 4], dead: [0, 5]), .selfListedDead(party: 0)),
            (UnmaskingRequest(sessionID: sid, alive: [0, 1, 2, 3], dead: [5]), .unlistedPeer(party: 0, peer: 4)),
            (UnmaskingRequest(sessionID: sid, alive: [0, 1, 1, 2, 3, 4], dead: [5]), .repeatedEntry(party: 0, list: "alive", peer: 1)),
            (UnmaskingRequest(sessionID: sid, alive: [0, 1, 2, 3, 4, 9], dead: [5]), .unknownParty(9)),
            (UnmaskingRequest(sessionID: sid, alive: [0, 1], dead: [2, 3, 4, 5]), .tooFewAlive(party: 0, phase: .unmasking, alive: 2, needed: 3)),
        ]
        for (index, (forged, reason)) in cases.enumerated() {
            var fresh = try Harness(parties: 6, threshold: 3)
            let honest = try fresh.runToUnmaskingRequests(dropAtMasking: [5])
            guard case .unmaskingRequest(let real) = try #require(honest.first).message else { return }
            let adjusted = UnmaskingRequest(sessionID: real.sessionID, alive: forged.alive, dead: forged.dead)
            #expect(throws: reason, "case \(index)") { try fresh.clients[0].receive(.unmaskingRequest(adjusted)) }
            #expect(fresh.clients[0].state == .aborted(reason))
        }
    }

    @Test func peersDeadBeforeMaskingCannotBeRevivedOrKilledAgain() throws {
        // Party 4 never sends shares: it is dead before masking for everyone.
        var harness = try Harness(parties: 6, threshold: 3)
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        let shareKeys = try harness.toClients(directories).filter { $0.sender != 4 }
        let forwarded = try harness.toServer(shareKeys, close: true)
        let masked = try harness.toClients(forwarded)
        let requests = try harness.toServer(masked)
        guard case .unmaskingRequest(let request) = try #require(requests.first).message else { return }
        #expect(request.dead.isEmpty)
        var other = harness
        #expect(throws: SecAggError.alreadyDead(party: 0, peer: 4)) {
            try harness.clients[0].receive(.unmaskingRequest(UnmaskingRequest(sessionID: request.sessionID, alive: [0, 1, 2, 3, 5], dead: [4])))
        }
        #expect(throws: SecAggError.deadPeerListedAlive(party: 0, peer: 4)) {
            try other.clients[0].receive(.unmaskingRequest(UnmaskingRequest(sessionID: request.sessionID, alive: [0, 1, 2, 3, 4, 5], dead: [])))
        }
    }

    @Test func sessionIDIsRecomputedNotTrusted() throws {
        var harness = try Harness()
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        guard case .keyDirectory(let directory) = directories[0].message else { return }
        var forgedID = directory.sessionID
        forgedID[0] ^= 1
        let forged = KeyDirectory(round: directory.round, sessionID: forgedID, keys: directory.keys)
        #expect(throws: SecAggError.sessionMismatch) { try harness.clients[0].receive(.keyDirectory(forged)) }
        #expect(harness.clients[0].state == .aborted(.sessionMismatch))
    }

    @Test func ownKeysMustAppearExactlyOnceUnchanged() throws {
        var harness = try Harness()
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        guard case .keyDirectory(let directory) = directories[0].message else { return }
        let mine = directory.keys[0]
        // Own keys missing.
        let without = Array(directory.keys.dropFirst())
        let missing = KeyDirectory(round: 3, sessionID: SessionCrypto.sessionID(configuration: harness.config, keys: without), keys: without)
        var a = harness
        #expect(throws: SecAggError.ownKeys(party: 0, count: 0)) { try a.clients[0].receive(.keyDirectory(missing)) }
        // Own keys substituted by the server (with a consistent session id).
        var rng = SeededRandom(seed: 77)
        let impostor = try SecAggClient(id: 0, configuration: harness.config, input: harness.inputs[0], using: &rng)
        guard case .advertiseKeys(let fake) = impostor.advertiseKeys() else { return }
        let substituted = [fake.keys] + without
        let swapped = KeyDirectory(round: 3, sessionID: SessionCrypto.sessionID(configuration: harness.config, keys: substituted), keys: substituted)
        var b = harness
        #expect(throws: SecAggError.ownKeys(party: 0, count: 1)) { try b.clients[0].receive(.keyDirectory(swapped)) }
        // Own keys repeated under another id.
        let copied = directory.keys.map {
            $0.party == 4 ? AdvertisedKeys(party: 4, maskPublicKey: mine.maskPublicKey, channelPublicKey: mine.channelPublicKey) : $0
        }
        let repeated = KeyDirectory(round: 3, sessionID: SessionCrypto.sessionID(configuration: harness.config, keys: copied), keys: copied)
        #expect(throws: SecAggError.ownKeys(party: 0, count: 2)) { try harness.clients[0].receive(.keyDirectory(repeated)) }
    }

    @Test func tooFewAliveAtShareKeysAborts() throws {
        var harness = try Harness(parties: 5, threshold: 4)
        let advertised = harness.clients.prefix(3).map { $0.advertiseKeys() }
        guard case .advertiseKeys = advertised[0] else { return }
        // A server that forwards only three key pairs (below t = 4).
        let keys = advertised.compactMap { message -> AdvertisedKeys? in
            if case .advertiseKeys(let a) = message { return a.keys }
            return nil
        }
        let directory = KeyDirectory(round: 3, sessionID: SessionCrypto.sessionID(configuration: harness.config, keys: keys), keys: keys)
        #expect(throws: SecAggError.tooFewAlive(party: 0, phase: .shareKeys, alive: 3, needed: 4)) {
            try harness.clients[0].receive(.keyDirectory(directory))
        }
    }

    @Test func sharesFromDeadOrForeignPeersAndTamperedSharesAbort() throws {
        var harness = try Harness(parties: 5, threshold: 3)
        let all = harness.clients.map { $0.advertiseKeys() }
        // Party 4 does not advertise: it is dead at round 1.
        let directories = try harness.toServer(Array(all.prefix(4)), close: true)
        let shareKeys = try harness.toClients(directories)
        let forwarded = try harness.toServer(shareKeys)
        guard case .forwardedShares(let honest) = try #require(forwarded.first(where: { $0.recipient == 0 })).message else { return }
        let sample = try #require(honest.shares.first)

        var a = harness
        let fromDead = ForwardedShares(
            sessionID: honest.sessionID, recipient: 0,
            shares: honest.shares + [EncryptedShare(sender: 4, recipient: 0, ciphertext: sample.ciphertext)])
        #expect(throws: SecAggError.sharesFromDeadPeer(party: 0, peer: 4)) { try a.clients[0].receive(.forwardedShares(fromDead)) }

        var b = harness
        var tampered = sample.ciphertext
        tampered[20] ^= 0x01
        let bad = ForwardedShares(
            sessionID: honest.sessionID, recipient: 0,
            shares: [EncryptedShare(sender: sample.sender, recipient: 0, ciphertext: tampered)] + honest.shares.dropFirst())
        #expect(throws: SecAggError.undecryptableShare(party: 0, sender: sample.sender)) { try b.clients[0].receive(.forwardedShares(bad)) }

        var c = harness
        let duplicated = ForwardedShares(sessionID: honest.sessionID, recipient: 0, shares: honest.shares + [sample])
        #expect(throws: SecAggError.repeatedEntry(party: 0, list: "forwarded shares", peer: sample.sender)) {
            try c.clients[0].receive(.forwardedShares(duplicated))
        }

        // A share re-addressed to another recipient fails: the associated data binds both ends.
        var d = harness
        guard case .forwardedShares(let toOne) = try #require(forwarded.first(where: { $0.recipient == 1 })).message,
            let meantForOne = toOne.shares.first(where: { $0.sender == 2 })
        else { return }
        let rerouted = ForwardedShares(
            sessionID: honest.sessionID, recipient: 0,
            shares: honest.shares.filter { $0.sender != 2 } + [EncryptedShare(sender: 2, recipient: 0, ciphertext: meantForOne.ciphertext)])
        #expect(throws: SecAggError.undecryptableShare(party: 0, sender: 2)) { try d.clients[0].receive(.forwardedShares(rerouted)) }

        var e = harness
        let misaddressed = ForwardedShares(sessionID: honest.sessionID, recipient: 1, shares: honest.shares)
        #expect(throws: SecAggError.misaddressed(party: 0, addressedTo: 1)) { try e.clients[0].receive(.forwardedShares(misaddressed)) }
    }

    @Test func outOfOrderReplayedAndForeignMessagesAreRejectedWithoutAborting() throws {
        var harness = try Harness()
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        let request = ServerMessage.unmaskingRequest(UnmaskingRequest(sessionID: [], alive: [], dead: []))
        // Too early.
        #expect(throws: SecAggError.unexpectedMessage(party: 0, received: "unmasking request", expected: "key directory")) {
            try harness.clients[0].receive(request)
        }
        #expect(harness.clients[0].state == .awaitingKeyDirectory)
        // Another round's directory.
        guard case .keyDirectory(let directory) = directories[0].message else { return }
        #expect(throws: SecAggError.wrongSession(party: 0, what: "round")) {
            try harness.clients[0].receive(.keyDirectory(KeyDirectory(round: 4, sessionID: directory.sessionID, keys: directory.keys)))
        }
        // The real one, then a replay of it.
        _ = try harness.clients[0].receive(directories[0].message)
        #expect(harness.clients[0].state == .awaitingShares)
        #expect(throws: SecAggError.unexpectedMessage(party: 0, received: "key directory", expected: "forwarded shares")) {
            try harness.clients[0].receive(directories[0].message)
        }
        #expect(harness.clients[0].state == .awaitingShares)
        // Forwarded shares of another session.
        #expect(throws: SecAggError.wrongSession(party: 0, what: "session id")) {
            try harness.clients[0].receive(.forwardedShares(ForwardedShares(sessionID: [1, 2, 3], recipient: 0, shares: [])))
        }
        #expect(harness.clients[0].state == .awaitingShares)
    }

    @Test func aCompletedClientNeverAnswersASecondRequest() throws {
        var harness = try Harness(parties: 5, threshold: 3)
        let requests = try harness.runToUnmaskingRequests()
        let first = try harness.clients[0].receive(requests[0].message)
        #expect(first != nil)
        #expect(harness.clients[0].state == .completed)
        guard case .unmaskingRequest(let request) = requests[0].message else { return }
        let second = UnmaskingRequest(sessionID: request.sessionID, alive: [0, 1, 2, 3], dead: [4])
        #expect(throws: SecAggError.unexpectedMessage(party: 0, received: "unmasking request", expected: "nothing (round completed)")) {
            try harness.clients[0].receive(.unmaskingRequest(second))
        }
    }
}

@Suite struct ServerValidationTests {
    @Test func serverAbortBelowThresholdReachesClients() throws {
        var harness = try Harness(parties: 5, threshold: 4)
        let notices = try harness.toServer(harness.clients.prefix(3).map { $0.advertiseKeys() }, close: true)
        #expect(notices.map(\.recipient) == [0, 1, 2])
        #expect(harness.server.abortReason == .tooFewParties(phase: .advertiseKeys, remaining: 3, needed: 4, missing: [3, 4]))
        #expect(harness.server.dropouts == [3: .advertiseKeys, 4: .advertiseKeys])
        _ = try harness.toClients(notices)
        guard case .aborted(.roundAborted(let reason)) = harness.clients[0].state else {
            Issue.record("client 0 did not record the abort")
            return
        }
        #expect(reason.contains("missing parties: 3, 4"))
        #expect(throws: SecAggError.roundFinished("aborted")) { try harness.server.closePhase() }
    }

    @Test func malformedDuplicatedAndOutOfOrderClientMessages() throws {
        var harness = try Harness(parties: 4, threshold: 3)
        let adverts = harness.clients.map { $0.advertiseKeys() }
        _ = try harness.server.receive(adverts[0])
        // Duplicate.
        #expect(throws: SecAggError.duplicateMessage(party: 0, kind: "advertise")) { try harness.server.receive(adverts[0]) }
        // Out of order: a masked input during key advertisement.
        let early = ClientMessage.maskedInput(MaskedInput(sessionID: [], sender: 1, vector: [0]))
        #expect(throws: SecAggError.unexpectedMessage(party: 1, received: "contribute", expected: "advertise")) { try harness.server.receive(early) }
        // Unknown party.
        let stranger = ClientMessage.advertiseKeys(
            AdvertiseKeys(
                round: 3, sessionNonce: [9, 9],
                keys: AdvertisedKeys(party: 17, maskPublicKey: [], channelPublicKey: [])))
        #expect(throws: SecAggError.unknownParty(17)) { try harness.server.receive(stranger) }
        // Malformed key.
        guard case .advertiseKeys(let good) = adverts[1] else { return }
        let short = ClientMessage.advertiseKeys(
            AdvertiseKeys(
                round: 3, sessionNonce: [9, 9],
                keys: AdvertisedKeys(party: 1, maskPublicKey: [1, 2], channelPublicKey: good.keys.channelPublicKey)))
        #expect(throws: SecAggError.self) { try harness.server.receive(short) }
        let zero = ClientMessage.advertiseKeys(
            AdvertiseKeys(
                round: 3, sessionNonce: [9, 9],
                keys: AdvertisedKeys(party: 1, maskPublicKey: [UInt8](repeating: 0, count: 32), channelPublicKey: good.keys.channelPublicKey)))
        #expect(throws: SecAggError.malformed(what: "public key of party 1", reason: "not a usable 32-byte X25519 key")) { try harness.server.receive(zero) }
        // Copied key (reflection).
        guard case .advertiseKeys(let first) = adverts[0] else { return }
        let copy = ClientMessage.advertiseKeys(
            AdvertiseKeys(
                round: 3, sessionNonce: [9, 9],
                keys: AdvertisedKeys(party: 1, maskPublicKey: first.keys.maskPublicKey, channelPublicKey: good.keys.channelPublicKey)))
        #expect(throws: SecAggError.duplicatePublicKey(party: 1, sameAs: 0)) { try harness.server.receive(copy) }
        // Wrong nonce, wrong round.
        let otherNonce = ClientMessage.advertiseKeys(AdvertiseKeys(round: 3, sessionNonce: [1], keys: good.keys))
        #expect(throws: SecAggError.wrongSession(party: 1, what: "session nonce")) { try harness.server.receive(otherNonce) }
        let otherRound = ClientMessage.advertiseKeys(AdvertiseKeys(round: 2, sessionNonce: [9, 9], keys: good.keys))
        #expect(throws: SecAggError.wrongSession(party: 1, what: "round")) { try harness.server.receive(otherRound) }
        // The rejected messages changed nothing: the honest round still completes.
        var directories: [Addressed<ServerMessage>] = []
        for advert in adverts.dropFirst() { directories += try harness.server.receive(advert) }
        let shareKeys = try harness.toClients(directories)
        // Replayed key advertisement after the phase moved on.
        #expect(throws: SecAggError.duplicateMessage(party: 2, kind: "advertise")) { try harness.server.receive(adverts[2]) }
        // Shares missing a neighbour.
        guard case .shareKeys(let s0) = shareKeys[0] else { return }
        let partial = ClientMessage.shareKeys(ShareKeys(sessionID: s0.sessionID, sender: 0, shares: Array(s0.shares.dropLast())))
        #expect(throws: SecAggError.self) { try harness.server.receive(partial) }
        let forwarded = try harness.toServer(shareKeys)
        #expect(throws: SecAggError.duplicateMessage(party: 0, kind: "share")) { try harness.server.receive(shareKeys[0]) }
        let masked = try harness.toClients(forwarded)
        // A masked input of the wrong length.
        guard case .maskedInput(let m0) = masked[0] else { return }
        let wrongLength = ClientMessage.maskedInput(MaskedInput(sessionID: m0.sessionID, sender: 0, vector: Array(m0.vector.dropLast())))
        #expect(throws: SecAggError.malformed(what: "masked input of party 0", reason: "expected 6 words, found 5")) {
            try harness.server.receive(wrongLength)
        }
        let requests = try harness.toServer(masked)
        let responses = try harness.toClients(requests)
        // A response revealing both shares of one peer is refused by the server too.
        guard case .unmaskingResponse(let r0) = responses[0] else { return }
        let greedy = ClientMessage.unmaskingResponse(
            UnmaskingResponse(
                sessionID: r0.sessionID, sender: 0, seedShares: r0.seedShares,
                maskKeyShares: [r0.seedShares[1]]))
        #expect(throws: SecAggError.self) { try harness.server.receive(greedy) }
        _ = try harness.toServer(responses)
        #expect(harness.server.result?.sum == expectedSum(harness.inputs, over: 0..<4))
        #expect(throws: SecAggError.roundFinished("completed")) { try harness.server.receive(responses[0]) }
    }
}
