/// The four client-visible steps of a secure-aggregation round.
public enum SecAggPhase: String, Sendable, Codable, Hashable, CaseIterable, CustomStringConvertible {
    /// Round 0: each party advertises its two public keys.
    case advertiseKeys = "advertise"
    /// Round 1: each party sends encrypted Shamir shares of its secrets to its neighbours.
    case shareKeys = "share"
    /// Round 2: each party sends its masked input vector.
    case maskedInput = "contribute"
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
        case .ownKeys(let party, let count): return "party \(party): its own public keys are missing, altered or repeated in the key directory (\(count) matching entries, expected exactly one, unchanged); aborting"
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
        case .deadPeerListedAlive(let party, let peer): return "party \(party): the unmasking request lists party \(peer) as alive, but it dropped before masking; aborting"
        case .alreadyDead(let party, let peer): return "party \(party): the unmasking request lists party \(peer) as newly dead, but it was already dead; aborting"
        case .unlistedPeer(let party, let peer): return "party \(party): the unmasking request omits neighbour \(peer); aborting"
        case .clientAborted(let party, let reason): return "party \(party) has aborted (\(reason)) and takes no further part"
        case .roundAborted(let reason): return "the server aborted the round: \(reason)"
        case .tooFewParties(let phase, let remaining, let needed, let missing):
            return "round aborted at \(phase): \(remaining) parties remain, threshold is \(needed); missing parties: \(missing.map(String.init).joined(separator: ", "))"
        case .notEnoughShares(let owner, let have, let need):
            if let owner { return "only \(have) shares of party \(owner)'s secret arrived, \(need) are needed" }
            return "only \(have) shares given, \(need) are needed"
        case .reconstructedKeyMismatch(let owner): return "the mask key reconstructed for party \(owner) does not match its advertised public key (corrupt shares)"
        case .roundFinished(let state): return "the round is \(state); no further messages are accepted"
        }
    }
}
