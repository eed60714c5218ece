// fedshare-fuzz: libFuzzer targets for every decoder of untrusted bytes (issue 8).
//
// Built only with FEDSHARE_FUZZ=1 (see Package.swift and scripts/fuzz.sh). The target is chosen
// by the environment variable FEDSHARE_FUZZ_TARGET; the arguments are libFuzzer's.
//
//   FEDSHARE_FUZZ_TARGET=manifest .build-fuzz/debug/fedshare-fuzz -max_total_time=60 corpus/
//   FEDSHARE_FUZZ_TARGET=manifest .build-fuzz/debug/fedshare-fuzz crash-<sha1>      (reproduce)
//
// Every target calls the production decoder and, where cheap, checks an invariant (decode →
// encode → decode gives the same value); a broken invariant aborts, which libFuzzer reports
// as a crash with the input saved.
import CFuzzerDriver
import Foundation

#if canImport(Glibc)
import Glibc
#endif

let targets: [String: ([UInt8]) -> Void] = [
    "party-envelope": ProtobufTargets.partyEnvelope,
    "aggregator-envelope": ProtobufTargets.aggregatorEnvelope,
    "ciphertext-batch": PaillierTargets.ciphertextBatch,
    "pheutil-public-key": PaillierTargets.pheutilPublicKey,
    "pheutil-private-key": PaillierTargets.pheutilPrivateKey,
    "pheutil-ciphertext": PaillierTargets.pheutilCiphertext,
    "threshold-public-key": ThresholdTargets.publicKey,
    "threshold-key-share": ThresholdTargets.keyShare,
    "threshold-decryption-share": ThresholdTargets.decryptionShare,
    "manifest": AttentionTargets.manifest,
    "kit": KitTargets.descriptor,
    "csv": AttentionTargets.csv,
    "tsv": AttentionTargets.tsv,
    "jsonl": AttentionTargets.jsonLines,
    "npy": AttentionTargets.numpy,
]

/// Stops the run with a message (libFuzzer saves the input as a crash).
func invariant(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    guard !condition() else { return }
    report("fedshare-fuzz: invariant broken at \(file):\(line): \(message())")
    abort()
}

nonisolated(unsafe) var selected: (([UInt8]) -> Void)?

func runOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    selected?(bytes)
    return 0
}

/// libFuzzer's symbol (unused by our own driver call, but lld pulls in FuzzerMain.o which wants it).
// swift-format-ignore: AlwaysUseLowerCamelCase
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { runOne(data, size) }

if CommandLine.arguments.dropFirst().first == "--list" {
    print(targets.keys.sorted().joined(separator: "\n"))
    exit(0)
}
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--write-seeds" {
    Fixtures.prepare()
    do { try Seeds.write(to: URL(fileURLWithPath: CommandLine.arguments[2], isDirectory: true)) } catch {
        report("fedshare-fuzz: cannot write the seeds: \(error)")
        exit(1)
    }
    exit(0)
}
let name = getenv("FEDSHARE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
guard let target = targets[name] else {
    report("fedshare-fuzz: set FEDSHARE_FUZZ_TARGET to one of: " + targets.keys.sorted().joined(separator: " "))
    exit(2)
}
Fixtures.prepare()
selected = target
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, runOne))

/// Writes one line to standard error.
func report(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
