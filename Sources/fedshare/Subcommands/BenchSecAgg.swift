import ArgumentParser
import Arithmetic
import Foundation
import Primitives
import SecureAggregation

/// `fedshare bench secagg`: one in-memory secure-aggregation round with real cryptography.
struct BenchSecAgg: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secagg",
        abstract: "Time one in-memory secure-aggregation round (real cryptography).",
        discussion: """
            Runs the server and every party in this process: key advertisement, encrypted \
            share exchange, masked input and unmasking, with --dropouts parties (the lowest ids) \
            vanishing at --drop-phase. Inputs are random reals in [-1, 1] encoded with the \
            shared fixed-point codec. Reports per-party masking time, the server's unmasking \
            time, bytes each party sends and the wall time of the whole round, and checks the \
            sum against the plain sum of the contributors.
            """
    )

    @Option(help: "Number of parties.")
    var parties: Int = 20

    @Option(help: "Vector length (values per party).")
    var length: Int = 100_000

    @Option(help: "Number of parties that drop out.")
    var dropouts: Int = 0

    @Option(help: "Where they drop: advertise, share, contribute or unmask.")
    var dropPhase: String = "contribute"

    @Option(help: "Sharing graph: full (every pair) or sparse (SecAgg+ Harary graph).")
    var graph: String = "full"

    @Option(help: "Neighbours per party in the sparse graph, self excluded (even). Flower's num_shares = degree + 1.")
    var degree: Int = 6

    @Option(help: "Reconstruction threshold t (default: degree/2 + 1 for sparse, parties/2 + 1 for full).")
    var threshold: Int?

    @Option(help: "Rounds to run; the fastest is reported.")
    var repetitions: Int = 1

    @OptionGroup
    var output: JSONOutputOptions

    struct Report: Codable {
        let parties: Int
        let length: Int
        let graph: String
        let neighbours: Int
        let threshold: Int
        let dropouts: Int
        let dropPhase: String
        let contributors: Int
        let correct: Bool
        let maskingSecondsMean: Double
        let maskingSecondsMax: Double
        let clientSecondsMean: Double
        let serverSeconds: Double
        let unmaskingSeconds: Double
        let bytesSentPerClient: Int
        let wallSeconds: Double
        let cores: Int
    }

    func validate() throws {
        guard parties >= 3 else { throw ValidationError("--parties must be at least 3 (got \(parties))") }
        guard length >= 1 else { throw ValidationError("--length must be at least 1 (got \(length))") }
        guard (0..<parties).contains(dropouts) else { throw ValidationError("--dropouts must be in 0..<\(parties) (got \(dropouts))") }
        guard ["full", "sparse"].contains(graph) else { throw ValidationError("--graph must be full or sparse (got \(graph))") }
        guard InMemorySecAggRound.DropPoint(phaseName: dropPhase) != nil else {
            throw ValidationError("--drop-phase must be advertise, share, contribute or unmask (got \(dropPhase))")
        }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
    }

    func run() throws {
        let sparse = graph == "sparse"
        let t = threshold ?? (sparse ? degree / 2 + 1 : parties / 2 + 1)
        let configuration = try SecAggConfiguration(
            parties: parties, threshold: t, vectorLength: length,
            graph: sparse ? .harary(degree: degree) : .complete,
            sessionNonce: SecureRandom.bytes(16), round: 1, vectorName: "bench")
        let codec = FixedPointCodec(fractionalBits: 24)
        var inputRandom = SeededRandom(seed: 2026)
        var inputs: [[UInt64]] = []
        for _ in 0..<parties {
            inputs.append(try (0..<length).map { _ in try codec.encodeToRing64(Double.random(in: -1...1, using: &inputRandom)) })
        }
        let drop = InMemorySecAggRound.DropPoint(phaseName: dropPhase) ?? .duringMaskedInput
        let dropped = Dictionary(uniqueKeysWithValues: (0..<dropouts).map { ($0, drop) })
        let round = try InMemorySecAggRound(configuration: configuration, inputs: inputs, dropouts: dropped)

        var best: InMemorySecAggRound.Report?
        var rng = SecureRandom()
        for _ in 0..<repetitions {
            let report = try round.run(using: &rng)
            if best == nil || report.wallSeconds < best!.wallSeconds { best = report }
        }
        guard let report = best else { return }
        guard let result = report.result else {
            throw CLIError("the round aborted: \(report.abortReason.map { "\($0)" } ?? "unknown reason")")
        }
        var expected = [UInt64](repeating: 0, count: length)
        for party in result.contributors {
            for index in 0..<length { expected[index] &+= inputs[party][index] }
        }
        let active = (0..<parties).filter { dropped[$0] == nil || drop == .duringUnmasking }
        let maskers = active.map { report.maskingSeconds[$0] }
        let output = Report(
            parties: parties, length: length, graph: graph, neighbours: configuration.neighbourhoodSize - 1, threshold: t,
            dropouts: dropouts, dropPhase: dropPhase, contributors: result.contributors.count, correct: result.sum == expected,
            maskingSecondsMean: maskers.reduce(0, +) / Double(max(maskers.count, 1)), maskingSecondsMax: maskers.max() ?? 0,
            clientSecondsMean: active.map { report.clientSeconds[$0] }.reduce(0, +) / Double(max(active.count, 1)),
            serverSeconds: report.serverSeconds, unmaskingSeconds: report.unmaskingSeconds,
            bytesSentPerClient: active.map { report.bytesSent[$0] }.reduce(0, +) / max(active.count, 1),
            wallSeconds: report.wallSeconds, cores: ProcessInfo.processInfo.activeProcessorCount)
        guard output.correct else { throw CLIError("the unmasked sum differs from the plain sum of the contributors") }
        if self.output.json {
            try printJSON(output)
        } else {
            print("secure aggregation: \(parties) parties, \(length) values, \(graph) graph (\(output.neighbours) neighbours), t = \(t)")
            print("  dropouts             \(dropouts) at \(dropPhase); \(output.contributors) inputs counted; sum correct")
            print(String(format: "  masking per client   %.4f s mean, %.4f s max", output.maskingSecondsMean, output.maskingSecondsMax))
            print(String(format: "  client total         %.4f s mean", output.clientSecondsMean))
            print(String(format: "  server unmasking     %.4f s (server total %.4f s)", output.unmaskingSeconds, output.serverSeconds))
            print("  bytes sent / client  \(output.bytesSentPerClient)")
            print(String(format: "  wall time            %.4f s (%d cores)", output.wallSeconds, output.cores))
        }
    }
}
