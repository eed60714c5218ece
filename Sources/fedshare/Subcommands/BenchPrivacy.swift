import ArgumentParser
import Arithmetic
import DifferentialPrivacy
import Foundation
import Primitives

/// `fedshare bench privacy`: in-process cost of the accountant and of the exact samplers.
struct BenchPrivacy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy",
        abstract: "Measure the privacy accountant (ε for k releases) and the exact noise samplers.")

    @Option(help: "Repetitions per measurement (the minimum and median are reported).") var repeats: Int = 20
    @OptionGroup var output: JSONOutputOptions

    struct Row: Encodable {
        let name: String
        let minMicroseconds: Double
        let medianMicroseconds: Double
    }

    func measure(_ name: String, _ body: () throws -> Void) rethrows -> Row {
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
        }
        times.sort()
        return Row(name: name, minMicroseconds: times[0], medianMicroseconds: times[times.count / 2])
    }

    func run() throws {
        var rows: [Row] = []
        for (kind, noise) in [(MechanismKind.gaussian, 1.0), (.laplace, 10.0)] {
            for count in [1, 100, 10_000] {
                let event = MechanismEvent(mechanism: kind, noise: noise, sensitivity: 1, count: count)
                rows.append(
                    try measure("epsilon best \(kind.rawValue) k=\(count)") {
                        _ = try PrivacyAccountant.spend(of: [event], delta: 1e-5, accountant: .best)
                    })
            }
        }
        rows.append(
            try measure("calibrate gaussian ε=1 δ=1e-5") {
                _ = try Calibration.noise(for: .gaussian, epsilon: 1, delta: 1e-5, sensitivity: 1)
            })
        let codec = FixedPointCodec(fractionalBits: 16)
        var random = SecureRandom()
        var buffered = BufferedSecureRandom()
        for mechanism in [NoiseMechanism.gaussian(sigma: 1), .laplace(scale: 1)] {
            rows.append(
                try measure("noise share \(mechanism.kind.rawValue) 10000 values (SecureRandom)") {
                    _ = try DistributedNoise.share(
                        for: mechanism, parties: 5, threshold: 3, codec: codec, count: 10_000,
                        using: &random)
                })
            rows.append(
                try measure("noise share \(mechanism.kind.rawValue) 10000 values (BufferedSecureRandom)") {
                    _ = try DistributedNoise.share(
                        for: mechanism, parties: 5, threshold: 3, codec: codec, count: 10_000,
                        using: &buffered)
                })
        }
        if output.json {
            try printJSON(rows)
        } else {
            for row in rows {
                print(
                    "\(row.name.padding(toLength: 56, withPad: " ", startingAt: 0)) min \(String(format: "%10.1f", row.minMicroseconds)) µs   median \(String(format: "%10.1f", row.medianMicroseconds)) µs"
                )
            }
        }
    }
}
