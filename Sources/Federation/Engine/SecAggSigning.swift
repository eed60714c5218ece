import FederationProtocol
import SecureAggregation

/// Secure aggregation with the federation's certificates: the `SecAggAuthenticator` a party's
/// client signs and verifies with, the verifier the aggregator's server checks arrivals with,
/// and the client's refusals re-told in party ids.
///
/// Every transcript the module signs is wrapped in ``SignedStatement/secureAggregation(manifestHash:party:transcript:)``:
/// bound to this federation's manifest and to the signer's certified party id, so that a
/// signature cannot be carried to another federation or claimed by another party.
enum SecAggSigning {
    static func authenticator(_ credentials: PartyCredentials, manifestHash: [UInt8], map: SecAggPartyMap) -> SecAggAuthenticator {
        let signer = credentials.signer
        return SecAggAuthenticator(
            credential: signer.certificate,
            sign: { transcript in
                try signer.sign(.secureAggregation(manifestHash: manifestHash, party: signer.party, transcript: transcript))
            },
            verify: verify(credentials.verifier, manifestHash: manifestHash, map: map))
    }

    /// Checks that `signature` over `transcript` was made with the certificate `credential`,
    /// issued by this federation's CA to the party at `index` of the round.
    static func verify(_ verifier: PeerVerifier, manifestHash: [UInt8], map: SecAggPartyMap) -> SecAggAuthenticator.Verify {
        { index, credential, transcript, signature in
            let party = map.party(at: index)
            guard party >= 1 else { return false }
            let statement = SignedStatement.secureAggregation(manifestHash: manifestHash, party: party, transcript: transcript)
            return (try? verifier.verify(signature, over: statement, by: party, certificate: credential)) != nil
        }
    }

    static func name(of message: ServerMessage) -> String {
        switch message {
        case .keyDirectory: return "SecAggKeyDirectory"
        case .forwardedShares: return "SecAggForwardedShares"
        case .survivorSet: return "SecAggSurvivorSet"
        case .unmaskingRequest: return "SecAggUnmaskingRequest"
        case .abort: return "abort"
        }
    }

    /// What the client found wrong, naming peers by their federation ids (the module counts
    /// from 0).
    static func reason(_ error: SecAggError, map: SecAggPartyMap) -> String {
        func id(_ index: Int) -> String { "party \(map.party(at: index))" }
        switch error {
        case .unsignedKey(_, let peer): return "the key of \(id(peer)) is unsigned or not signed by \(id(peer)) (substituted or forged keys)"
        case .survivorOutsideView(_, let peer): return "the survivor set lists \(id(peer)), which did not complete share-keys in this party's view"
        case .selfNotSurvivor: return "the survivor set leaves out this party, whose masked input was sent"
        case .survivorsNotAscending: return "the survivor set is not ascending without repeats"
        case .badSurvivorSignature(_, let signer):
            return "the signature of \(id(signer)) does not verify over the survivor set this party signed (unsigned, wrongly signed or over another set)"
        case .signerNotSurvivor(_, let signer): return "it carries a survivor-set signature of \(id(signer)), which is not a survivor"
        case .tooFewSurvivorSignatures(_, let valid, let needed):
            return "it carries \(valid) valid survivor-set signatures; at least \(needed) (the threshold) are needed"
        case .aliveNotSignedSet: return "its alive list differs from the survivor set this party signed (equivocation)"
        case .deadNotComplement: return "its dead list is not the parties that completed share-keys less the signed survivors (equivocation)"
        case .equivocation(_, let peer): return "it lists \(id(peer)) as both alive and dead (equivocation)"
        case .selfListedDead: return "it lists this party as dead"
        case .deadPeerListedAlive(_, let peer): return "it lists \(id(peer)) as alive, though it dropped before masking"
        case .alreadyDead(_, let peer): return "it lists \(id(peer)) as newly dead, though it was already dead"
        case .unlistedPeer(_, let peer): return "it leaves out \(id(peer))"
        case .sharesFromDeadPeer(_, let peer): return "it forwards shares from \(id(peer)), which was already dead"
        case .repeatedEntry(_, let list, let peer): return "\(id(peer)) appears twice in its \(list) list"
        case .tooFewAlive(_, let phase, let alive, let needed):
            return "only \(alive) parties stay alive at \(phase.rawValue); the threshold is \(needed)"
        default: return "\(error)"
        }
    }
}
