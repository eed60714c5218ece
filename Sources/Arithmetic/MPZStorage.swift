import CGMP

/// Owns one GMP integer (`mpz_t`) for its lifetime.
///
/// This is the only layer of `Arithmetic` that touches GMP pointers. `BigInt` keeps one of these
/// and copies it before mutation when it is shared (copy on write).
final class MPZStorage: @unchecked Sendable {
    /// GMP's integer record; allocated once so that its address is stable.
    let pointer: UnsafeMutablePointer<__mpz_struct>

    /// Whether the limbs are overwritten before they are freed (values that held secrets).
    /// GMP's allocator installed by `GMPRuntime` zeroes every freed block anyway; this also
    /// covers the record's own size field.
    var isSecret = false

    init() {
        GMPRuntime.ensureInstalled()
        pointer = .allocate(capacity: 1)
        __gmpz_init(pointer)
    }

    init(copying other: MPZStorage) {
        GMPRuntime.ensureInstalled()
        pointer = .allocate(capacity: 1)
        __gmpz_init_set(pointer, other.pointer)
        isSecret = other.isSecret
    }

    deinit {
        if isSecret { fs_mpz_wipe(pointer) }
        __gmpz_clear(pointer)
        pointer.deallocate()
    }
}

/// Process-wide GMP set-up, done once before the first integer is made.
enum GMPRuntime {
    private static let installed: Bool = {
        // Every block GMP frees (values and its own temporaries) is zeroed first, so that secret
        // limbs do not survive in freed memory.
        fs_gmp_install_zeroising_allocator()
        return true
    }()

    static func ensureInstalled() {
        _ = installed
    }
}
