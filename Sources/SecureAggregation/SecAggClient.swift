import Primitives

/// One party of a secure-aggregation round, as a state machine without sockets: feed it the
/// server's messages with `receive(_:)`, send what it returns.
///
/// Every consistency check of the protocol runs here, on the client, because the server is not
/// trusted with them: the session id is recomputed from the advertised keys, the client's own
/// keys must appear exactly once, at least t parties of its neighbourhood must stay alive, no
/// shares may come from a peer already dead, and the unmasking request must list alive and dead
/// peers disjointly and consistently with what the client saw, so that it reveals exactly one
/// share per peer. With an authenticator, every advertised key must carry its owner's signature;
/// with the consistency check, the client signs the survivor set it is sent and reveals nothing
/// unless the unmasking request carries at least t survivors' signatures over that same set and
/// lists exactly it as alive. A failed check aborts the client (`state == .aborted(reason)`) and throws the
/// reason. Out-of-order, duplicated and foreign-session messages are rejected (thrown) without
/// changing the state.
public struct SecAggClient: Sendable {
    public enum State: Sendable, Equatable {
        case awaitingKeyDirectory
        case awaitingShares
        /// Consistency check only: the masked input is out, the survivor set is next.
        case awaitingSurvivorSet
        case awaitingUnmaskingRequest
        case completed
        case aborted(SecAggError)
    }

    public let id: Int
    public let configuration: SecAggConfiguration
    public private(set) var state: State = .awaitingKeyDirectory

    private let input: [UInt64]
    private let maskKey: KeyAgreementKey
    private let channelKey: KeyAgreementKey
    private let seed: SecretBytes
    private let seedDealer: Shamir.Dealer
    private let maskKeyDealer: Shamir.Dealer
    private let ownKeys: AdvertisedKeys
    private let authenticator: SecAggAuthenticator?

    // Learnt along the way.
    private var sessionID: [UInt8] = []
    private var neighbours: [Int] = []
    private var neighbourSet: Set<Int> = []
    /// Neighbours whose keys were in the directory (alive at round 1).
    private var directory: [Int: AdvertisedKeys] = [:]
    /// Shares held, per owner (self included): the owner's seed share and mask-key share.
    private var heldShares: [Int: (seed: Shamir.Share, maskKey: Shamir.Share)] = [:]
    /// Neighbours included in the masks (alive at round 2), self excluded.
    private var maskedWith: Set<Int> = []
    /// X25519(c_u, c_v) per live neighbour, computed once for both directions.
    private var channelSecrets: [Int: SecretBytes] = [:]
    /// Every directory entry's credential (authenticated rounds), for checking survivor signatures.
    private var credentials: [Int: [UInt8]] = [:]
    /// The survivor set this client signed (consistency check).
    private var signedSurvivors: [Int]?

    /// - Parameters:
    ///   - id: this party's id in 0..<parties.
    ///   - input: `vectorLength` words (encode reals with `FixedPointCodec.encodeToRing64`).
    ///   - rng: the source of the key pairs, the self-mask seed and the sharing polynomials
    ///     (`SecureRandom` in production).
    ///   - authenticator: signs this party's keys (and, with the consistency check, the survivor
    ///     set) and verifies everyone else's. Nil: the honest-but-curious protocol, unsigned.
    /// - Throws: `invalidConfiguration` when the configuration asks for the consistency check
    ///   and no authenticator is given; whatever `authenticator.sign` throws.
    public init(
        id: Int, configuration: SecAggConfiguration, input: [UInt64],
        using rng: inout some RandomNumberGenerator, authenticator: SecAggAuthenticator? = nil
    ) throws {
        guard (0..<configuration.parties).contains(id) else { throw SecAggError.unknownParty(id) }
        guard authenticator != nil || !configuration.consistencyCheck else {
            throw SecAggError.invalidConfiguration(
                "party \(id): the consistency check needs an authenticator (survivor sets must be signed); give SecAggClient one or turn consistencyCheck off")
        }
        guard input.count == configuration.vectorLength else {
            throw SecAggError.malformed(what: "input of party \(id)", reason: "expected \(configuration.vectorLength) words, found \(input.count)")
        }
        self.id = id
        self.configuration = configuration
        self.input = input
        func randomBytes(_ count: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count + 8)
            while bytes.count < count { withUnsafeBytes(of: rng.next()) { bytes.append(contentsOf: $0) } }
            return Array(bytes.prefix(count))
        }
        maskKey = try KeyAgreementKey(rawRepresentation: randomBytes(32))
        channelKey = try KeyAgreementKey(rawRepresentation: randomBytes(32))
        seed = SecretBytes(randomBytes(Shamir.secretLength))
        seedDealer = try Shamir.Dealer(secret: seed.bytes, threshold: configuration.threshold, using: &rng)
        maskKeyDealer = try Shamir.Dealer(secret: maskKey.secret.bytes, threshold: configuration.threshold, using: &rng)
        self.authenticator = authenticator
        if let authenticator {
            let transcript = SecAggTranscript.advertisedKeys(
                round: configuration.round, sessionNonce: configuration.sessionNonce, party: id,
                maskPublicKey: maskKey.publicKey, channelPublicKey: channelKey.publicKey)
            ownKeys = AdvertisedKeys(
                party: id, maskPublicKey: maskKey.publicKey, channelPublicKey: channelKey.publicKey,
                credential: authenticator.credential, signature: try authenticator.sign(transcript))
        } else {
            ownKeys = AdvertisedKeys(party: id, maskPublicKey: maskKey.publicKey, channelPublicKey: channelKey.publicKey)
        }
    }

    /// Round 0: this party's public keys (the same every time it is asked).
    public func advertiseKeys() -> ClientMessage {
        .advertiseKeys(AdvertiseKeys(round: configuration.round, sessionNonce: configuration.sessionNonce, keys: ownKeys))
    }

    /// Handles one server message and returns the reply, if any.
    /// - Throws: the reason a check failed (the client is then aborted), or a rejection of an
    ///   out-of-order, duplicated or foreign message (the state is unchanged).
    public mutating func receive(_ message: ServerMessage) throws -> ClientMessage? {
        if case .aborted(let reason) = state { throw SecAggError.clientAborted(party: id, reason: reason.description) }
        switch (message, state) {
        case (.abort(let notice), _):
            guard notice.round == configuration.round else { throw SecAggError.wrongSession(party: id, what: "round") }
            if state != .completed { state = .aborted(.roundAborted(reason: notice.reason)) }
            return nil
        case (.keyDirectory(let directory), .awaitingKeyDirectory):
            guard directory.round == configuration.round else { throw SecAggError.wrongSession(party: id, what: "round") }
            return try checked { try $0.handle(directory) }
        case (.forwardedShares(let forwarded), .awaitingShares):
            guard forwarded.sessionID == sessionID else { throw SecAggError.wrongSession(party: id, what: "session id") }
            return try checked { try $0.handle(forwarded) }
        case (.survivorSet(let survivors), .awaitingSurvivorSet):
            guard survivors.sessionID == sessionID else { throw SecAggError.wrongSession(party: id, what: "session id") }
            return try checked { try $0.handle(survivors) }
        case (.unmaskingRequest(let request), .awaitingUnmaskingRequest):
            guard request.sessionID == sessionID else { throw SecAggError.wrongSession(party: id, what: "session id") }
            return try checked { try $0.handle(request) }
        default:
            throw SecAggError.unexpectedMessage(party: id, received: message.kind, expected: expectedKind)
        }
    }

    private var expectedKind: String {
        switch state {
        case .awaitingKeyDirectory: return "key directory"
        case .awaitingShares: return "forwarded shares"
        case .awaitingSurvivorSet: return "survivor set"
        case .awaitingUnmaskingRequest: return "unmasking request"
        case .completed: return "nothing (round completed)"
        case .aborted: return "nothing (aborted)"
        }
    }

    /// Runs a handler; any failure aborts this client.
    private mutating func checked(_ body: (inout SecAggClient) throws -> ClientMessage) throws -> ClientMessage {
        do {
            return try body(&self)
        } catch let error as SecAggError {
            state = .aborted(error)
            throw error
        } catch {
            let wrapped = SecAggError.malformed(what: "message to party \(id)", reason: "\(error)")
            state = .aborted(wrapped)
            throw wrapped
        }
    }

    // MARK: Round 1

    private mutating func handle(_ message: KeyDirectory) throws -> ClientMessage {
        let n = configuration.parties
        var seen: [Int: AdvertisedKeys] = [:]
        var keyOwners: [KeyFingerprint: Int] = [:]
        // Own keys: exactly once, under this party's id, unchanged.
        let ownEntries = message.keys.filter {
            $0.party == id || $0.maskPublicKey == ownKeys.maskPublicKey || $0.channelPublicKey == ownKeys.channelPublicKey
        }
        guard ownEntries.count == 1, ownEntries[0] == ownKeys else { throw SecAggError.ownKeys(party: id, count: ownEntries.count) }
        for entry in message.keys {
            guard (0..<n).contains(entry.party) else { throw SecAggError.unknownParty(entry.party) }
            guard seen[entry.party] == nil else { throw SecAggError.repeatedEntry(party: id, list: "key directory", peer: entry.party) }
            guard SessionCrypto.isAcceptablePublicKey(entry.maskPublicKey), SessionCrypto.isAcceptablePublicKey(entry.channelPublicKey) else {
                throw SecAggError.malformed(what: "public key of party \(entry.party)", reason: "not a usable X25519 key")
            }
            if let authenticator {
                // Nothing authenticates the directory but the owners' signatures.
                let transcript = SecAggTranscript.advertisedKeys(entry, configuration: configuration)
                guard !entry.signature.isEmpty, authenticator.verify(entry.party, entry.credential, transcript, entry.signature) else {
                    throw SecAggError.unsignedKey(party: id, peer: entry.party)
                }
            }
            for key in [KeyFingerprint(entry.maskPublicKey), KeyFingerprint(entry.channelPublicKey)] {
                if let other = keyOwners[key] { throw SecAggError.duplicatePublicKey(party: entry.party, sameAs: other) }
                keyOwners[key] = entry.party
            }
            seen[entry.party] = entry
        }
        // Never take the session id on the server's word.
        let recomputed = SessionCrypto.sessionID(configuration: configuration, keys: message.keys)
        guard recomputed == message.sessionID else { throw SecAggError.sessionMismatch }
        sessionID = recomputed
        if authenticator != nil { credentials = seen.mapValues(\.credential) }
        let graph = try SharingGraph(configuration: configuration, sessionID: sessionID)
        neighbours = graph.neighbours(of: id)
        neighbourSet = Set(neighbours)
        directory = seen.filter { neighbourSet.contains($0.key) }
        let alive = directory.count + 1
        guard alive >= configuration.threshold else {
            throw SecAggError.tooFewAlive(party: id, phase: .shareKeys, alive: alive, needed: configuration.threshold)
        }
        heldShares[id] = (seedDealer.share(at: UInt64(id) + 1), maskKeyDealer.share(at: UInt64(id) + 1))
        // Per peer: one X25519 agreement, one HKDF, one AES-GCM seal; spread over the cores.
        let peers = directory.keys.sorted()
        let peerKeys = peers.compactMap { directory[$0] }
        let (me, channelKey, seedDealer, maskKeyDealer, sessionID, configuration) =
            (id, self.channelKey, self.seedDealer, self.maskKeyDealer, self.sessionID, self.configuration)
        let sealed = try parallelMap(peers.count) { index -> (EncryptedShare, SecretBytes) in
            let peer = peers[index]
            let point = UInt64(peer) + 1
            var plaintext = SessionCrypto.bigEndian32(me) + SessionCrypto.bigEndian32(peer)
            plaintext += seedDealer.share(at: point).encoded
            plaintext += maskKeyDealer.share(at: point).encoded
            defer { plaintext.withUnsafeMutableBytes { memsetZero($0.baseAddress!, $0.count) } }
            let secret = try channelKey.sharedSecret(with: peerKeys[index].channelPublicKey)
            let key = try SessionCrypto.channelKey(sharedSecret: secret, sessionID: sessionID, sender: me, recipient: peer)
            let ciphertext = try AESGCM.seal(
                plaintext, key: key, nonce: SessionCrypto.channelNonce,
                associatedData: SessionCrypto.shareAssociatedData(configuration: configuration, sessionID: sessionID, sender: me, recipient: peer))
            return (EncryptedShare(sender: me, recipient: peer, ciphertext: ciphertext), SecretBytes(secret))
        }
        let shares = sealed.map(\.0)
        for (index, peer) in peers.enumerated() { channelSecrets[peer] = sealed[index].1 }
        state = .awaitingShares
        return .shareKeys(ShareKeys(sessionID: sessionID, sender: id, shares: shares))
    }

    // MARK: Round 2

    private mutating func handle(_ message: ForwardedShares) throws -> ClientMessage {
        guard message.recipient == id else { throw SecAggError.misaddressed(party: id, addressedTo: message.recipient) }
        var received: Set<Int> = []
        for share in message.shares {
            guard share.recipient == id else { throw SecAggError.misaddressed(party: id, addressedTo: share.recipient) }
            let sender = share.sender
            guard (0..<configuration.parties).contains(sender) else { throw SecAggError.unknownParty(sender) }
            guard sender != id, neighbourSet.contains(sender) else { throw SecAggError.notANeighbour(party: id, peer: sender) }
            guard directory[sender] != nil, let secret = channelSecrets[sender]?.bytes else {
                throw SecAggError.sharesFromDeadPeer(party: id, peer: sender)
            }
            guard received.insert(sender).inserted else { throw SecAggError.repeatedEntry(party: id, list: "forwarded shares", peer: sender) }
            guard share.ciphertext.count == SessionCrypto.shareCiphertextLength,
                let key = try? SessionCrypto.channelKey(sharedSecret: secret, sessionID: sessionID, sender: sender, recipient: id),
                var plaintext = try? AESGCM.open(
                    share.ciphertext, key: key,
                    associatedData: SessionCrypto.shareAssociatedData(configuration: configuration, sessionID: sessionID, sender: sender, recipient: id)),
                plaintext.count == SessionCrypto.sharePlaintextLength,
                Array(plaintext[0..<8]) == SessionCrypto.bigEndian32(sender) + SessionCrypto.bigEndian32(id),
                let seedShare = Shamir.Share(x: UInt64(id) + 1, encoded: Array(plaintext[8..<(8 + Shamir.shareLength)])),
                let keyShare = Shamir.Share(x: UInt64(id) + 1, encoded: Array(plaintext[(8 + Shamir.shareLength)...]))
            else { throw SecAggError.undecryptableShare(party: id, sender: sender) }
            plaintext.withUnsafeMutableBytes { memsetZero($0.baseAddress!, $0.count) }
            heldShares[sender] = (seedShare, keyShare)
        }
        let alive = received.count + 1
        guard alive >= configuration.threshold else {
            throw SecAggError.tooFewAlive(party: id, phase: .maskedInput, alive: alive, needed: configuration.threshold)
        }
        maskedWith = received
        channelSecrets.removeAll()

        // y = x + PRG(b_u) + Σ_{v<u} PRG(s_uv) − Σ_{v>u} PRG(s_uv)  (mod 2^64)
        let selfTerm = MaskExpander.Term(
            key: try SessionCrypto.selfMaskKey(seed: seed.bytes, sessionID: sessionID, configuration: configuration, owner: id),
            subtract: false)
        let peers = received.sorted()
        let peerKeys = peers.compactMap { directory[$0]?.maskPublicKey }
        let (me, maskKey, sessionID, configuration) = (id, self.maskKey, self.sessionID, self.configuration)
        let pairwise = try parallelMap(peers.count) { index -> MaskExpander.Term in
            let secret = try maskKey.sharedSecret(with: peerKeys[index])
            let key = try SessionCrypto.pairwiseMaskKey(sharedSecret: secret, sessionID: sessionID, configuration: configuration, me, peers[index])
            return MaskExpander.Term(key: key, subtract: peers[index] > me)
        }
        let terms = [selfTerm] + pairwise
        var vector = input
        try MaskExpander.apply(terms, to: &vector)
        state = configuration.consistencyCheck ? .awaitingSurvivorSet : .awaitingUnmaskingRequest
        return .maskedInput(MaskedInput(sessionID: sessionID, sender: id, vector: vector))
    }

    // MARK: Consistency check

    /// Signs the survivor set after checking it against this client's view: ascending and
    /// distinct, itself included, at least t parties, and every neighbour listed among those
    /// whose shares arrived (U2 as this client saw it; non-neighbours are not visible to it).
    private mutating func handle(_ message: SurvivorSet) throws -> ClientMessage {
        guard let authenticator else { throw SecAggError.invalidConfiguration("party \(id): no authenticator") }
        let survivors = message.survivors
        for peer in survivors where !(0..<configuration.parties).contains(peer) { throw SecAggError.unknownParty(peer) }
        guard zip(survivors, survivors.dropFirst()).allSatisfy({ $0 < $1 }) else { throw SecAggError.survivorsNotAscending(party: id) }
        guard survivors.contains(id) else { throw SecAggError.selfNotSurvivor(party: id) }
        if let peer = survivors.first(where: { $0 != id && neighbourSet.contains($0) && !maskedWith.contains($0) }) {
            throw SecAggError.survivorOutsideView(party: id, peer: peer)
        }
        guard survivors.count >= configuration.threshold else {
            throw SecAggError.tooFewAlive(party: id, phase: .consistencyCheck, alive: survivors.count, needed: configuration.threshold)
        }
        let signature = try authenticator.sign(SecAggTranscript.survivorSet(sessionID: sessionID, survivors: survivors))
        signedSurvivors = survivors
        state = .awaitingUnmaskingRequest
        return .survivorSignature(SurvivorSignature(sessionID: sessionID, sender: id, signature: signature))
    }

    /// Before revealing anything: at least t distinct survivors signed the very set this client
    /// signed, the request lists exactly that set as alive, and as dead exactly the neighbours
    /// whose shares arrived but who are not survivors (only survivors' ids otherwise).
    private func checkSignedSurvivors(_ message: UnmaskingRequest) throws {
        guard let authenticator, let signed = signedSurvivors else { throw SecAggError.invalidConfiguration("party \(id): no signed survivor set") }
        let survivorSet = Set(signed)
        let transcript = SecAggTranscript.survivorSet(sessionID: sessionID, survivors: signed)
        var signers: Set<Int> = []
        for entry in message.signatures {
            guard survivorSet.contains(entry.party) else { throw SecAggError.signerNotSurvivor(party: id, signer: entry.party) }
            guard signers.insert(entry.party).inserted else { throw SecAggError.repeatedEntry(party: id, list: "signatures", peer: entry.party) }
            guard let credential = credentials[entry.party], !entry.signature.isEmpty,
                authenticator.verify(entry.party, credential, transcript, entry.signature)
            else {
                throw SecAggError.badSurvivorSignature(party: id, signer: entry.party)
            }
        }
        guard signers.count >= configuration.threshold else {
            throw SecAggError.tooFewSurvivorSignatures(party: id, valid: signers.count, needed: configuration.threshold)
        }
        guard message.alive == signed else { throw SecAggError.aliveNotSignedSet(party: id) }
        // In this client's view (its neighbourhood), dead = U2 \ survivors exactly; outside it,
        // only distinct non-survivors (the client cannot see who else completed share-keys).
        let expectedDead = maskedWith.subtracting(survivorSet)
        var dead: Set<Int> = []
        for peer in message.dead {
            guard (0..<configuration.parties).contains(peer), !survivorSet.contains(peer), dead.insert(peer).inserted else {
                throw SecAggError.deadNotComplement(party: id)
            }
        }
        guard dead.intersection(neighbourSet.union([id])) == expectedDead else { throw SecAggError.deadNotComplement(party: id) }
    }

    // MARK: Round 3

    private mutating func handle(_ message: UnmaskingRequest) throws -> ClientMessage {
        if configuration.consistencyCheck { try checkSignedSurvivors(message) }
        var alive: Set<Int> = []
        var dead: Set<Int> = []
        for peer in message.alive {
            guard (0..<configuration.parties).contains(peer) else { throw SecAggError.unknownParty(peer) }
            guard alive.insert(peer).inserted else { throw SecAggError.repeatedEntry(party: id, list: "alive", peer: peer) }
        }
        for peer in message.dead {
            guard (0..<configuration.parties).contains(peer) else { throw SecAggError.unknownParty(peer) }
            guard dead.insert(peer).inserted else { throw SecAggError.repeatedEntry(party: id, list: "dead", peer: peer) }
        }
        // Never both shares for one peer.
        if let peer = alive.intersection(dead).min() { throw SecAggError.equivocation(party: id, peer: peer) }
        guard !dead.contains(id) else { throw SecAggError.selfListedDead(party: id) }
        guard alive.contains(id) else { throw SecAggError.unlistedPeer(party: id, peer: id) }
        for peer in neighbours {
            if maskedWith.contains(peer) {
                guard alive.contains(peer) || dead.contains(peer) else { throw SecAggError.unlistedPeer(party: id, peer: peer) }
            } else {
                guard !dead.contains(peer) else { throw SecAggError.alreadyDead(party: id, peer: peer) }
                guard !alive.contains(peer) else { throw SecAggError.deadPeerListedAlive(party: id, peer: peer) }
            }
        }
        let aliveNeighbourhood = maskedWith.filter { alive.contains($0) }.count + 1
        guard aliveNeighbourhood >= configuration.threshold else {
            throw SecAggError.tooFewAlive(party: id, phase: .unmasking, alive: aliveNeighbourhood, needed: configuration.threshold)
        }
        var seedShares: [RevealedShare] = []
        var maskKeyShares: [RevealedShare] = []
        for owner in (maskedWith.union([id])).sorted() {
            guard let held = heldShares[owner] else { continue }
            if alive.contains(owner) {
                seedShares.append(RevealedShare(owner: owner, share: held.seed.encoded))
            } else if dead.contains(owner) {
                maskKeyShares.append(RevealedShare(owner: owner, share: held.maskKey.encoded))
            }
        }
        heldShares.removeAll()
        state = .completed
        return .unmaskingResponse(UnmaskingResponse(sessionID: sessionID, sender: id, seedShares: seedShares, maskKeyShares: maskKeyShares))
    }
}
