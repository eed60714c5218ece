/// The client-visible steps of a secure-aggregation round (`consistencyCheck` only when the
/// configuration asks for it).
public enum SecAggPhase: String, Sendable, Codable, Hashable, CaseIterable, CustomStringConvertible {
    /// Round 0: each party advertises its two public keys.
    case advertiseKeys = "advertise"
    /// Round 1: each party sends encrypted Shamir shares of its secrets to its neighbours.
    case shareKeys = "share"
    /// Round 2: each party sends its masked input vector.
    case maskedInput = "contribute"
    /// Between rounds 2 and 3, only with `SecAggConfiguration.consistencyCheck`: each survivor
    /// signs the survivor set the server sent it (Bonawitz et al.'s ConsistencyCheck).
    case consistencyCheck = "check"
    /// Round 3: each survivor reveals one share per neighbour.
    case unmasking = "unmask"

    public var description: String { rawValue }
}

/// Every failure of the secure-aggregation module: configuration errors, malformed or
/// out-of-order messages, the client-side consistency checks (each a named reason to abort), and
/// the server's aborts below the threshold.
public enum SecAggError: Error, Equatable, Sendable, CustomStringConvertible {
    // Configuration.
    case invalidConfiguration(String)

    // Message hygiene (both sides).
    /// A message was not for this session (other round, nonce or session id).
    case wrongSession(party: Int, what: String)
    /// A message arrived in the wrong phase (too early, too late, or after the end).
    case unexpectedMessage(party: Int, received: String, expected: String)
    /// A second message of a kind already received from `party` in this phase (replay or duplicate).
    case duplicateMessage(party: Int, kind: String)
    /// A party id outside 0..<parties, or a message from a party that is not expected.
    case unknownParty(Int)
    /// A field that fails validation (wrong length, invalid point, not a field element…).
    case malformed(what: String, reason: String)
    /// Two parties advertised the same public key (a copied key would let one unmask the other).
    case duplicatePublicKey(party: Int, sameAs: Int)

    // Client checks (each aborts the client's participation).
    /// The server's session id differs from the one this client recomputed from the advertised keys.
    case sessionMismatch
    /// This client's own public keys are missing, altered or repeated in the key directory
    /// (`count` entries carry its id or its keys; exactly one, unchanged, is required).
    case ownKeys(party: Int, count: Int)
    /// Fewer than t parties remain alive in this client's neighbourhood.
    case tooFewAlive(party: Int, phase: SecAggPhase, alive: Int, needed: Int)
    /// Shares arrived from a peer this client already considers dead.
    case sharesFromDeadPeer(party: Int, peer: Int)
    /// Material arrived from or about a party that is not a neighbour in the sharing graph.
    case notANeighbour(party: Int, peer: Int)
    /// An encrypted share failed authentication or carried the wrong sender/recipient.
    case undecryptableShare(party: Int, sender: Int)
    /// A message routed to `party` was addressed to someone else.
    case misaddressed(party: Int, addressedTo: Int)
    /// An id repeats inside one list of a message.
    case repeatedEntry(party: Int, list: String, peer: Int)
    /// The unmasking request lists `peer` both alive and dead: answering would reveal both shares.
    case equivocation(party: Int, peer: Int)
    /// The unmasking request lists this client itself as dead.
    case selfListedDead(party: Int)
    /// The unmasking request lists as alive a peer that dropped before masking.
    case deadPeerListedAlive(party: Int, peer: Int)
    /// The unmasking request lists as dead a peer that was already dead before masking.
    case alreadyDead(party: Int, peer: Int)
    /// The unmasking request omits a neighbour that was alive at masking time.
    case unlistedPeer(party: Int, peer: Int)

    // Authentication and the consistency check (client side; each aborts the client).
    /// The key directory carries an entry for `peer` whose signature is missing or does not
    /// verify: the server sent keys that `peer` did not sign (substituted or forged).
    case unsignedKey(party: Int, peer: Int)
    /// The survivor set lists `peer`, which did not complete share-keys in this client's view.
    case survivorOutsideView(party: Int, peer: Int)
    /// The survivor set does not list this client, though its masked input was sent.
    case selfNotSurvivor(party: Int)
    /// The survivor set is not in ascending order without repeats.
    case survivorsNotAscending(party: Int)
    /// A signature in the unmasking request does not verify over the survivor set this client
    /// signed (unsigned, wrongly signed, or over a different set).
    case badSurvivorSignature(party: Int, signer: Int)
    /// A signature in the unmasking request comes from a party outside the survivor set.
    case signerNotSurvivor(party: Int, signer: Int)
    /// The unmasking request carries fewer than t valid signatures of distinct survivors.
    case tooFewSurvivorSignatures(party: Int, valid: Int, needed: Int)
    /// The unmasking request's alive list differs from the survivor set this client signed.
    case aliveNotSignedSet(party: Int)
    /// The unmasking request's dead list differs from this client's view of the parties that
    /// completed share-keys, less the survivors.
    case deadNotComplement(party: Int)

    /// The client already aborted (for the reason given) and takes no further part.
    case clientAborted(party: Int, reason: String)
    /// The server announced that the round was aborted.
    case roundAborted(reason: String)

    // Server.
    /// Fewer than t parties remain after `phase`; `missing` lists who did not answer.
    case tooFewParties(phase: SecAggPhase, remaining: Int, needed: Int, missing: [Int])
    /// Fewer than t shares of `owner`'s secret are available (owner nil: a direct Shamir call).
    case notEnoughShares(owner: Int?, have: Int, need: Int)
    /// A reconstructed mask key does not match the public key `owner` advertised: bad shares.
    case reconstructedKeyMismatch(owner: Int)
    /// The server is not collecting anything any more (finished or aborted).
    case roundFinished(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): return "invalid secure-aggregation configuration: \(message)"
        case .wrongSession(let party, let what): return "party \(party): message is for another session (\(what) differs)"
        case .unexpectedMessage(let party, let received, let expected):
            return "party \(party): unexpected \(received) message (expected \(expected)); rejected as out of order"
        case .duplicateMessage(let party, let kind): return "party \(party): duplicate \(kind) message rejected (replay or resend)"
        case .unknownParty(let id): return "party \(id) is not a member of this round"
        case .malformed(let what, let reason): return "malformed \(what): \(reason)"
        case .duplicatePublicKey(let party, let other): return "party \(party) advertised the same public key as party \(other)"
        case .sessionMismatch: return "the server's session id does not match the one recomputed from the advertised keys; aborting"
        case .ownKeys(let party, let count):
            return
                "party \(party): its own public keys are missing, altered or repeated in the key directory (\(count) matching entries, expected exactly one, unchanged); aborting"
        case .tooFewAlive(let party, let phase, let alive, let needed):
            return "party \(party): only \(alive) parties alive in its neighbourhood at \(phase), threshold is \(needed); aborting"
        case .sharesFromDeadPeer(let party, let peer): return "party \(party): received shares from party \(peer), which was already dead; aborting"
        case .notANeighbour(let party, let peer): return "party \(party): party \(peer) is not its neighbour in the sharing graph; aborting"
        case .undecryptableShare(let party, let sender): return "party \(party): the share from party \(sender) failed authentication; aborting"
        case .misaddressed(let party, let addressedTo): return "party \(party): received a message addressed to party \(addressedTo); aborting"
        case .repeatedEntry(let party, let list, let peer): return "party \(party): party \(peer) appears twice in the \(list) list; aborting"
        case .equivocation(let party, let peer):
            return "party \(party): the unmasking request lists party \(peer) as both alive and dead (equivocation); refusing to reveal both shares, aborting"
        case .selfListedDead(let party): return "party \(party): the unmasking request lists this party as dead; aborting"
        case .deadPeerListedAlive(let party, let peer):
            return "party \(party): the unmasking request lists party \(peer) as alive, but it dropped before masking; aborting"
        case .alreadyDead(let party, let peer):
            return "party \(party): the unmasking request lists party \(peer) as newly dead, but it was already dead; aborting"
        case .unlistedPeer(let party, let peer): return "party \(party): the unmasking request omits neighbour \(peer); aborting"
        case .unsignedKey(let party, let peer):
            return
                "party \(party): the aggregator sent an unsigned or wrongly signed key for party \(peer) in the key directory (substituted or forged keys); aborting"
        case .survivorOutsideView(let party, let peer):
            return
                "party \(party): the aggregator's survivor set lists party \(peer), which did not complete share-keys in this party's view; refusing to sign, aborting"
        case .selfNotSurvivor(let party):
            return "party \(party): the aggregator's survivor set omits this party, whose masked input was sent; refusing to sign, aborting"
        case .survivorsNotAscending(let party):
            return "party \(party): the aggregator's survivor set is not in ascending order without repeats; refusing to sign, aborting"
        case .badSurvivorSignature(let party, let signer):
            return
                "party \(party): the aggregator sent a signature of party \(signer) that does not verify over the survivor set this party signed (unsigned, wrongly signed or over a different set); revealing nothing, aborting"
        case .signerNotSurvivor(let party, let signer):
            return
                "party \(party): the aggregator sent a survivor-set signature of party \(signer), which is not in the survivor set; revealing nothing, aborting"
        case .tooFewSurvivorSignatures(let party, let valid, let needed):
            return
                "party \(party): the aggregator sent \(valid) survivor-set signatures, at least \(needed) (the threshold) are needed; revealing nothing, aborting"
        case .aliveNotSignedSet(let party):
            return
                "party \(party): the unmasking request's alive list differs from the survivor set this party signed (equivocation); revealing nothing, aborting"
        case .deadNotComplement(let party):
            return
                "party \(party): the unmasking request's dead list differs from the parties that completed share-keys less the signed survivors (equivocation); revealing nothing, aborting"
        case .clientAborted(let party, let reason): return "party \(party) has aborted (\(reason)) and takes no further part"
        case .roundAborted(let reason): return "the server aborted the round: \(reason)"
        case .tooFewParties(let phase, let remaining, let needed, let missing):
            return
                "round aborted at \(phase): \(remaining) parties remain, threshold is \(needed); missing parties: \(missing.map(String.init).joined(separator: ", "))"
        case .notEnoughShares(let owner, let have, let need):
            if let owner { return "only \(have) shares of party \(owner)'s secret arrived, \(need) are needed" }
            return "only \(have) shares given, \(need) are needed"
        case .reconstructedKeyMismatch(let owner):
            return "the mask key reconstructed for party \(owner) does not match its advertised public key (corrupt shares)"
        case .roundFinished(let state): return "the round is \(state); no further messages are accepted"
        }
    }
}
