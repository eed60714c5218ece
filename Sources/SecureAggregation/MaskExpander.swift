import Dispatch
import Primitives

/// Expands AES-256-CTR keystreams into vectors of 64-bit words and adds or subtracts them
/// (mod 2^64) into an accumulator: the pairwise and self masks of secure aggregation.
///
/// Word i of the mask under key K is the little-endian reading of keystream bytes 8i..<8i+8,
/// with the counter block starting at zero; the vector is processed in chunks that start on an
/// AES block boundary, so chunks are independent and are spread over all cores. Cost: one AES
/// block per two words per key, linear in the vector length.
public enum MaskExpander {
    /// One mask to apply.
    public struct Term: Sendable {
        /// The 32-byte AES-256 key.
        public let key: [UInt8]
        /// Subtract the mask instead of adding it.
        public let subtract: Bool

        public init(key: [UInt8], subtract: Bool) {
            self.key = key
            self.subtract = subtract
        }
    }

    /// Words per work item: 64 KiB, which stays in the L2 cache with its keystream scratch.
    static let chunkWords = 8192

    /// Adds (or subtracts) each term's mask to `vector`, modulo 2^64.
    /// - Parameter parallel: spread chunks over all cores (default); false runs on the caller's thread.
    public static func apply(_ terms: [Term], to vector: inout [UInt64], parallel: Bool = true) throws {
        guard !terms.isEmpty, !vector.isEmpty else { return }
        for term in terms where term.key.count != 32 {
            throw SecAggError.malformed(what: "mask key", reason: "expected 32 bytes, found \(term.key.count)")
        }
        let count = vector.count
        let chunks = (count + chunkWords - 1) / chunkWords
        var failed = [Bool](repeating: false, count: chunks)
        vector.withUnsafeMutableBufferPointer { output in
            failed.withUnsafeMutableBufferPointer { failures in
                let shared = UncheckedSendable((output, failures))
                let work: @Sendable (Int) -> Void = { chunk in
                    let (output, failures) = shared.value
                    let start = chunk * chunkWords
                    let length = min(chunkWords, count - start)
                    let slice = UnsafeMutableBufferPointer(rebasing: output[start..<(start + length)])
                    if !expand(terms, into: slice, firstWord: start) { failures[chunk] = true }
                }
                if parallel, chunks > 1 {
                    DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
                } else {
                    for chunk in 0..<chunks { work(chunk) }
                }
            }
        }
        if failed.contains(true) { throw SecAggError.malformed(what: "mask key", reason: "AES-256-CTR refused the key") }
    }

    /// The mask under `key` alone (for tests and known-answer checks).
    public static func mask(key: [UInt8], length: Int) throws -> [UInt64] {
        var vector = [UInt64](repeating: 0, count: length)
        try apply([Term(key: key, subtract: false)], to: &vector, parallel: false)
        return vector
    }

    /// Applies every term to one chunk starting at word `firstWord` (even, so AES-block aligned).
    private static func expand(_ terms: [Term], into output: UnsafeMutableBufferPointer<UInt64>, firstWord: Int) -> Bool {
        let length = output.count
        let scratch = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: length)
        defer {
            memsetZero(UnsafeMutableRawPointer(scratch.baseAddress!), length * 8)
            scratch.deallocate()
        }
        var counter = [UInt8](repeating: 0, count: 16)
        let block = UInt64(firstWord / 2)
        withUnsafeBytes(of: block.bigEndian) { counter.replaceSubrange(8..<16, with: $0) }
        for term in terms {
            scratch.update(repeating: 0)
            guard var stream = try? AESCTRKeystream(key: term.key, counter: counter) else { return false }
            stream.apply(to: UnsafeMutableRawBufferPointer(scratch))
            if term.subtract {
                for index in 0..<length { output[index] &-= UInt64(littleEndian: scratch[index]) }
            } else {
                for index in 0..<length { output[index] &+= UInt64(littleEndian: scratch[index]) }
            }
        }
        return true
    }
}

/// Wraps a value the compiler cannot prove `Sendable` where the code guarantees disjoint access.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Maps `count` independent items over all cores (serially below `minimumForParallel`),
/// keeping the order; the first error thrown is rethrown.
func parallelMap<T: Sendable>(
    _ count: Int, minimumForParallel: Int = 4,
    _ body: @Sendable (Int) throws -> T
) throws -> [T] {
    guard count >= minimumForParallel else { return try (0..<count).map(body) }
    let results = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    let shared = UncheckedSendable(results)
    DispatchQueue.concurrentPerform(iterations: count) { index in
        shared.value[index] = Result { try body(index) }
    }
    return try results.map { try $0!.get() }
}
