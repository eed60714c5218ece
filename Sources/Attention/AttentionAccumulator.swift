import COpenBLAS
import Dispatch

/// Accumulates a party's local attention matrix A_p (G × M) and its group counts, one chunk of
/// records at a time, so memory is bounded by the chunk and not by the data.
///
/// Per chunk: one or two `cblas_dgemm` calls in float64 produce every record's scores, then the
/// records are split across cores for the softmax (max subtraction, vectorised exponential,
/// normalisation) and the per-group sums, each core into its own accumulator.
///
/// The sums are exact: every probability is rounded to the grid 2^-52 (an integer ≤ 2^52) and
/// added in integers, Int64 lanes per core folded into Int128 totals before a lane could
/// overflow. The matrix therefore does not depend on the chunk size, the number of cores, how
/// records are split among processes or in which order they come (Spark partitions, two
/// accumulators taking turns), and partial results add up exactly (`AttentionSums`). For that
/// every record's scores must not depend on where it sits in a chunk: OpenBLAS handles the rows
/// of a product that do not fill its kernel's tile (and small products) with other code, whose
/// last bits differ, so the products always run on whole blocks of `blockRows` rows at
/// block-aligned offsets (the last block padded), and every record goes through the same kernel.
///
/// Because scores are linear in x, (xW)·Kᵀ·scale = x·(W·Kᵀ·scale): with an encoder the product
/// W·Kᵀ·scale (d × M) is formed once and each chunk needs a single d-by-M product, unless two
/// thinner products (d × h, then h × M) cost fewer operations.
///
/// Fill `features` and `groups` for up to `capacity` records, then call `flush(count:)`.
public final class AttentionAccumulator {
    public let model: AttentionModel
    /// The most records per chunk.
    public let capacity: Int
    /// Features of the pending chunk, `capacity` × d, row-major.
    public let features: UnsafeMutablePointer<Double>
    /// Group indices (into `model.groups`) of the pending chunk.
    public let groups: UnsafeMutablePointer<Int32>

    private let m: Int
    private let paddedM: Int
    private let d: Int
    private let h: Int
    private let groupCount: Int
    private let workers: Int
    /// d × paddedM (single product) or h × paddedM (second of two products), scale folded in.
    private let projection: UnsafeMutablePointer<Double>
    /// The encoder W (d × h) when two products are cheaper, else nil.
    private let encoder: UnsafeMutablePointer<Double>?
    private let encoded: UnsafeMutablePointer<Double>?
    private let scores: UnsafeMutablePointer<Double>
    /// Bias, padded with −∞ so the padding lanes vanish in the softmax.
    private let bias: UnsafeMutablePointer<Double>
    /// One G × paddedM accumulator per worker, in units of 2^-52.
    private let lanes: UnsafeMutablePointer<Int64>
    /// Rows added to each worker's lanes of each group since they were last folded (workers × G).
    private let pending: UnsafeMutablePointer<Int>
    /// One G × paddedM total per worker, in units of 2^-52.
    private let totals: UnsafeMutablePointer<Int128>
    private var counts: [Int]
    private var recordsSeen = 0

    /// - Parameters:
    ///   - model: the agreed model.
    ///   - capacity: records per chunk (memory ≈ capacity × (d + M) × 8 bytes).
    ///   - workers: cores used for the softmax; by default all active processors.
    public init(model: AttentionModel, capacity: Int = 8192, workers: Int? = nil) {
        AttentionAccumulator.useSingleThreadedBLAS()
        self.model = model
        self.capacity = max(1, capacity)
        m = model.anchorCount
        paddedM = (m + 3) / 4 * 4
        d = model.featureDimension
        h = model.embeddingDimension
        groupCount = model.groups.count
        self.workers = max(1, workers ?? System.activeProcessorCount)
        let storedRows = (self.capacity + Self.blockRows - 1) / Self.blockRows * Self.blockRows
        features = .allocate(capacity: storedRows * d)
        features.initialize(repeating: 0, count: storedRows * d)
        groups = .allocate(capacity: self.capacity)
        groups.initialize(repeating: 0, count: self.capacity)
        scores = .allocate(capacity: storedRows * paddedM)
        scores.initialize(repeating: 0, count: storedRows * paddedM)
        bias = .allocate(capacity: paddedM)
        bias.initialize(repeating: -Double.infinity, count: paddedM)
        for j in 0..<m { bias[j] = model.bias[j] }
        lanes = .allocate(capacity: self.workers * groupCount * paddedM)
        lanes.initialize(repeating: 0, count: self.workers * groupCount * paddedM)
        pending = .allocate(capacity: self.workers * groupCount)
        pending.initialize(repeating: 0, count: self.workers * groupCount)
        totals = .allocate(capacity: self.workers * groupCount * paddedM)
        totals.initialize(repeating: 0, count: self.workers * groupCount * paddedM)
        counts = [Int](repeating: 0, count: groupCount)

        // K transposed and scaled: h × paddedM, zero padding.
        var kt = [Double](repeating: 0, count: h * paddedM)
        for a in 0..<m { for e in 0..<h { kt[e * paddedM + a] = model.anchors[a * h + e] * model.scale } }
        let twoProducts = model.encoder != nil && d * h + h * paddedM < d * paddedM
        if let w = model.encoder, !twoProducts {
            let product = UnsafeMutablePointer<Double>.allocate(capacity: d * paddedM)
            product.initialize(repeating: 0, count: d * paddedM)
            let (rows, columns, inner) = (Int32(d), Int32(paddedM), Int32(h))
            w.withUnsafeBufferPointer { wp in
                kt.withUnsafeBufferPointer { kp in
                    cblas_dgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, columns, inner,
                        1, wp.baseAddress, inner, kp.baseAddress, columns, 0, product, columns)
                }
            }
            projection = product
            encoder = nil
            encoded = nil
        } else {
            projection = .allocate(capacity: h * paddedM)
            projection.initialize(from: kt, count: h * paddedM)
            if let w = model.encoder {
                let pointer = UnsafeMutablePointer<Double>.allocate(capacity: d * h)
                pointer.initialize(from: w, count: d * h)
                encoder = pointer
                encoded = .allocate(capacity: storedRows * h)
                encoded!.initialize(repeating: 0, count: storedRows * h)
            } else {
                encoder = nil
                encoded = nil
            }
        }
    }

    deinit {
        features.deallocate()
        groups.deallocate()
        scores.deallocate()
        bias.deallocate()
        lanes.deallocate()
        pending.deallocate()
        totals.deallocate()
        projection.deallocate()
        encoder?.deallocate()
        encoded?.deallocate()
    }

    /// Rows per BLAS product: a multiple of every OpenBLAS kernel's tile height.
    static let blockRows = 256

    /// fedshare splits every chunk across cores itself; OpenBLAS's own threads would compete
    /// with those workers (and busy-wait), so it runs single-threaded in each of them.
    private static let configureBLAS: Void = { openblas_set_num_threads(1) }()
    static func useSingleThreadedBLAS() { _ = configureBLAS }

    /// The number of records added so far.
    public var recordCount: Int { recordsSeen }

    /// Adds the first `count` records of the pending chunk (their features and groups must be
    /// in `features` and `groups`; group indices must be valid).
    /// - Throws: `AttentionError.scoreOverflow` if a record's scores are not finite.
    public func flush(count: Int) throws {
        try flush(count: count, recordBase: recordsSeen)
    }

    /// `flush(count:)`, numbering records from `recordBase` in errors (for pipelines that
    /// alternate between accumulators).
    func flush(count: Int, recordBase: Int) throws {
        precondition(count >= 0 && count <= capacity, "chunk larger than the accumulator's capacity")
        guard count > 0 else { return }
        for i in 0..<count { counts[Int(groups[i])] += 1 }
        let shared = Shared(
            features: features, encoder: encoder, encoded: encoded, projection: projection,
            scores: scores, bias: bias, groups: groups, lanes: lanes, pending: pending, totals: totals,
            d: d, h: h, paddedM: paddedM, groupCount: groupCount)
        // Each core multiplies and normalises its own slice of the chunk, so no core waits for
        // another between the product and the softmax (OpenBLAS itself runs single-threaded).
        let blocks = (count + Self.blockRows - 1) / Self.blockRows
        let slices = count >= 512 ? min(workers, blocks) : 1
        let firstBad: Int
        if slices <= 1 {
            firstBad = shared.process(rows: 0..<count, worker: 0)
        } else {
            let results = BadRowSlots(count: slices)
            DispatchQueue.concurrentPerform(iterations: slices) { slice in
                let lower = blocks * slice / slices * Self.blockRows
                let upper = min(count, blocks * (slice + 1) / slices * Self.blockRows)
                results.set(slice, shared.process(rows: lower..<upper, worker: slice))
            }
            firstBad = results.minimum()
        }
        if firstBad < Int.max { throw AttentionError.scoreOverflow(record: recordBase + firstBad + 1) }
        recordsSeen += count
    }

    /// Adds records given as arrays (features row-major, n × d; group indices), in chunks.
    /// - Throws: `AttentionError.shapeMismatch` if the sizes disagree or a group index is out
    ///   of range (nothing is added then), `AttentionError.scoreOverflow` as `flush`.
    public func add(features input: [Double], groups inputGroups: [Int]) throws {
        guard input.count == inputGroups.count * d else {
            throw AttentionError.shapeMismatch("expected \(inputGroups.count) × \(d) feature values (d = \(d)), found \(input.count)")
        }
        if let bad = inputGroups.first(where: { $0 < 0 || $0 >= groupCount }) {
            throw AttentionError.shapeMismatch("group index \(bad) is outside 0..<\(groupCount)")
        }
        var offset = 0
        while offset < inputGroups.count {
            let n = min(capacity, inputGroups.count - offset)
            input.withUnsafeBufferPointer { source in
                features.update(from: source.baseAddress! + offset * d, count: n * d)
            }
            for i in 0..<n { groups[i] = Int32(inputGroups[offset + i]) }
            try flush(count: n)
            offset += n
        }
    }

    /// The accumulated matrix and counts, each cell converted once from its exact sum.
    public func result() -> AttentionResult { exactSums().result }

    /// The exact sums (units of 2^-52) and counts.
    public func exactSums() -> AttentionSums {
        var sums = [Int128](repeating: 0, count: groupCount * m)
        for w in 0..<workers {
            for g in 0..<groupCount {
                let row = (w * groupCount + g) * paddedM
                for a in 0..<m { sums[g * m + a] += totals[row + a] + Int128(lanes[row + a]) }
            }
        }
        return AttentionSums(groups: model.groups, anchors: model.anchorNames, sums: sums, counts: counts)
    }
}

/// The buffers one softmax worker touches; each worker writes its own rows of `scores` and its
/// own accumulator, so sharing them across threads is safe.
private struct Shared: @unchecked Sendable {
    let features: UnsafeMutablePointer<Double>
    let encoder: UnsafeMutablePointer<Double>?
    let encoded: UnsafeMutablePointer<Double>?
    let projection: UnsafeMutablePointer<Double>
    let scores: UnsafeMutablePointer<Double>
    let bias: UnsafeMutablePointer<Double>
    let groups: UnsafeMutablePointer<Int32>
    let lanes: UnsafeMutablePointer<Int64>
    let pending: UnsafeMutablePointer<Int>
    let totals: UnsafeMutablePointer<Int128>
    let d: Int
    let h: Int
    let paddedM: Int
    let groupCount: Int

    /// Scores of the rows (one or two BLAS products per block of `blockRows`, the last one
    /// padded into the buffers' spare rows), then their softmax, accumulated. `rows` starts at
    /// a multiple of `blockRows`.
    func process(rows: Range<Int>, worker: Int) -> Int {
        let n = Int32(AttentionAccumulator.blockRows)
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: AttentionAccumulator.blockRows) {
            let x = features + start * d
            let s = scores + start * paddedM
            if let encoder, let encoded {
                let y = encoded + start * h
                cblas_dgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, n, Int32(h), Int32(d),
                    1, x, Int32(d), encoder, Int32(h), 0, y, Int32(h))
                cblas_dgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, n, Int32(paddedM), Int32(h),
                    1, y, Int32(h), projection, Int32(paddedM), 0, s, Int32(paddedM))
            } else {
                cblas_dgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, n, Int32(paddedM), Int32(d),
                    1, x, Int32(d), projection, Int32(paddedM), 0, s, Int32(paddedM))
            }
        }
        return softmaxAndAccumulate(rows: rows, worker: worker)
    }

    /// A row adds at most 2^52 to one lane, so 2^10 rows keep an Int64 lane below 2^62.
    static let rowsPerFold = 1 << 10

    /// Softmax of each row, rounded to the grid 2^-52 and added to its group's row of this
    /// worker's lanes. Returns the first row whose scores are not finite (not added), or `Int.max`.
    func softmaxAndAccumulate(rows: Range<Int>, worker: Int) -> Int {
        let raw = UnsafeMutableRawPointer(scores)
        let biasRaw = UnsafeRawPointer(bias)
        let workerLanes = UnsafeMutableRawPointer(lanes + worker * groupCount * paddedM)
        let laneCount = paddedM / 4
        let stride = MemoryLayout<SIMD4<Double>>.stride
        // p · 2^52 + 2^52 lies in [2^52, 2^53], where doubles are the integers: its bits minus
        // those of 2^52 are p · 2^52 rounded to nearest (ties to even), 2^52 itself for p = 1.
        // (The exponential uses the same shift; SSE2 has no double-to-Int64 lane conversion.)
        let shifter = SIMD4<Double>(repeating: 0x1p52)
        let shifterBits = unsafeBitCast(shifter, to: SIMD4<Int64>.self)
        for row in rows {
            let base = raw + row * paddedM * 8
            var best = SIMD4<Double>(repeating: -.infinity)
            for v in 0..<laneCount {
                let value =
                    base.loadUnaligned(fromByteOffset: v * stride, as: SIMD4<Double>.self)
                    + biasRaw.loadUnaligned(fromByteOffset: v * stride, as: SIMD4<Double>.self)
                base.storeBytes(of: value, toByteOffset: v * stride, as: SIMD4<Double>.self)
                best = pointwiseMax(best, value)
            }
            let maximum = best.max()
            guard maximum.isFinite else { return row }
            let shift = SIMD4<Double>(repeating: maximum)
            var total = SIMD4<Double>()
            for v in 0..<laneCount {
                let e = vectorExp(base.loadUnaligned(fromByteOffset: v * stride, as: SIMD4<Double>.self) - shift)
                base.storeBytes(of: e, toByteOffset: v * stride, as: SIMD4<Double>.self)
                total += e
            }
            let inverse = SIMD4<Double>(repeating: 1 / total.sum())
            let group = Int(groups[row])
            let target = workerLanes + group * paddedM * 8
            for v in 0..<laneCount {
                let p = base.loadUnaligned(fromByteOffset: v * stride, as: SIMD4<Double>.self) * inverse
                let quantised = unsafeBitCast(p * shifter + shifter, to: SIMD4<Int64>.self) &- shifterBits
                let sum = target.loadUnaligned(fromByteOffset: v * stride, as: SIMD4<Int64>.self) &+ quantised
                target.storeBytes(of: sum, toByteOffset: v * stride, as: SIMD4<Int64>.self)
            }
            let counter = pending + worker * groupCount + group
            counter.pointee += 1
            if counter.pointee == Self.rowsPerFold {
                fold(worker: worker, group: group)
                counter.pointee = 0
            }
        }
        return Int.max
    }

    /// Moves one worker's lanes of one group into its Int128 totals.
    func fold(worker: Int, group: Int) {
        let offset = (worker * groupCount + group) * paddedM
        for a in 0..<paddedM {
            totals[offset + a] += Int128(lanes[offset + a])
            lanes[offset + a] = 0
        }
    }
}

/// Per-slice results written from concurrent workers (each slot by one worker only).
private final class BadRowSlots: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Int>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: Int.max)
    }
    deinit { slots.deallocate() }
    func set(_ slot: Int, _ value: Int) { slots[slot] = value }
    func minimum() -> Int { slots.min() ?? Int.max }
}

enum System {
    static var activeProcessorCount: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
