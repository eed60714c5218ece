import Primitives

/// The CSPRNG (`SecureRandom`, OpenSSL's DRBG) read 4 KiB at a time.
///
/// The exact samplers consume a few 64-bit words per draw; asking OpenSSL for each word costs
/// more than the sampling itself. Same generator, same security, fewer calls. Keep it local to
/// one task (it is a value type holding unread random bytes; do not copy it to reuse them).
public struct BufferedSecureRandom: RandomNumberGenerator {
    private var buffer = [UInt64](repeating: 0, count: 512)
    private var index = 512

    public init() {}

    public mutating func next() -> UInt64 {
        if index == buffer.count {
            buffer.withUnsafeMutableBytes { SecureRandom.fill($0) }
            index = 0
        }
        defer {
            buffer[index] = 0  // used words are not kept around
            index += 1
        }
        return buffer[index]
    }
}
