import FederationProtocol
import Foundation

/// Builders and checks shared by both engines.
enum Envelopes {
    static func aggregator(round: UInt64, manifestHash: [UInt8], _ body: Wire.AggregatorEnvelope.Body) -> Wire.AggregatorEnvelope {
        var envelope = Wire.AggregatorEnvelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.manifestHash = manifestHash
        envelope.roundID = round
        envelope.body = body
        return envelope
    }

    static func party(_ party: Int, round: UInt64, manifestHash: [UInt8], _ body: Wire.PartyEnvelope.Body) -> Wire.PartyEnvelope {
        var envelope = Wire.PartyEnvelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.manifestHash = manifestHash
        envelope.roundID = round
        envelope.partyID = UInt32(party)
        envelope.body = body
        return envelope
    }

    static func error(_ code: Wire.ErrorCode, _ message: String, phase: RoundPhase) -> Wire.Error {
        var error = Wire.Error()
        error.code = code
        error.message = String(message.prefix(2000))
        error.phase = phase.wire
        return error
    }

    /// The name of a party message's body, for errors.
    static func name(_ body: Wire.PartyEnvelope.Body?) -> String {
        switch body {
        case .none: return "an empty envelope"
        case .hello: return "Hello"
        case .accept: return "RoundAccept"
        case .refuse: return "RoundRefuse"
        case .contribution: return "ContributionChunk"
        case .commitAck: return "CommitAck"
        case .partialDecryption: return "PartialDecryptionChunk"
        case .advertiseKeys: return "SecAggAdvertiseKeys"
        case .shareKeys: return "SecAggShareKeys"
        case .maskedInput: return "SecAggMaskedInputChunk"
        case .unmaskingResponse: return "SecAggUnmaskingResponse"
        case .survivorSignature: return "SecAggSurvivorSignature"
        case .resultAck: return "ResultAck"
        case .error: return "Error"
        }
    }

    static func name(_ body: Wire.AggregatorEnvelope.Body?) -> String {
        switch body {
        case .none: return "an empty envelope"
        case .welcome: return "Welcome"
        case .open: return "RoundOpen"
        case .encryptedSum: return "EncryptedSumChunk"
        case .keyDirectory: return "SecAggKeyDirectory"
        case .forwardedShares: return "SecAggForwardedShares"
        case .unmaskingRequest: return "SecAggUnmaskingRequest"
        case .result: return "ResultChunk"
        case .abort: return "Abort"
        case .relayedContribution: return "RelayedContribution"
        case .survivorSet: return "SecAggSurvivorSet"
        case .error: return "Error"
        }
    }
}

/// The wire's error code for an error, from its case: what the peer did wrong, or that the
/// fault is this side's own.
enum WireErrorCode {
    static func of(_ error: any Error) -> Wire.ErrorCode {
        switch error {
        case let error as ProtocolError:
            switch error {
            case .unsupportedVersion: return .errorUnsupportedVersion
            case .tooLarge: return .errorTooLarge
            case .malformed, .chunkOutOfOrder: return .errorMalformed
            }
        case let error as FederationError:
            switch error {
            case .parameterMismatch: return .errorManifestMismatch
            case .unexpectedMessage: return .errorUnexpectedMessage
            case .wrongRound: return .errorWrongRound
            case .identity: return .errorIdentity
            case .malformed, .aggregatorRefused, .catalogRefused, .catalogQueryRefused, .requestRefused, .peerViolation: return .errorMalformed
            case .configuration, .contribution, .noise, .internalState, .storage, .output,
                .existingAuthority, .io, .malformedFile, .invalidSetting, .certificate, .insecurePermissions,
                .unsupportedManifestReference, .keyDealing, .invalidAddress, .unreachable, .refused, .untrustedAggregator,
                .cannotListen, .streamFailed, .partyInput, .localRun:
                return .errorInternal
            }
        default:
            // The checks below the engines (Paillier, secure aggregation, the wire's assemblers)
            // refuse what a peer sent.
            return .errorMalformed
        }
    }
}
