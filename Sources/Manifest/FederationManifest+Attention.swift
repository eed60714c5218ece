import Arithmetic
import Attention
import Foundation

// The attention computation takes only its settings and model; these run it under a whole
// manifest, which binds partial results to the manifest's SHA-256.

extension LocalAttention {
    /// Computes A_p and the group counts under `manifest`'s attention settings and model, with
    /// user sampling driven by the system CSPRNG.
    public static func compute(manifest: FederationManifest, dataURL: URL, options: Options = Options()) throws -> AttentionResult {
        try compute(settings: manifest.attention, model: manifest.model, dataURL: dataURL, options: options)
    }

    /// Computes A_p and the group counts as exact sums under `manifest`, with user sampling driven
    /// by the CSPRNG.
    public static func sums(manifest: FederationManifest, dataURL: URL, options: Options = Options()) throws -> AttentionSums {
        try sums(settings: manifest.attention, model: manifest.model, dataURL: dataURL, options: options)
    }

    /// Computes A_p and the group counts under `manifest`.
    public static func compute(
        manifest: FederationManifest, dataURL: URL, options: Options,
        using rng: inout some RandomNumberGenerator
    ) throws -> AttentionResult {
        try compute(settings: manifest.attention, model: manifest.model, dataURL: dataURL, options: options, using: &rng)
    }

    /// Computes A_p and the group counts as exact sums under `manifest`.
    public static func sums(
        manifest: FederationManifest, dataURL: URL, options: Options,
        using rng: inout some RandomNumberGenerator
    ) throws -> AttentionSums {
        try sums(settings: manifest.attention, model: manifest.model, dataURL: dataURL, options: options, using: &rng)
    }
}

extension PartialAttention {
    /// The hash a partial result made with `manifest` records.
    public static func hash(of manifest: FederationManifest) -> String { Base16.encode(manifest.digest) }

    /// The partial result of `sums`, computed under `manifest` from records whose bound was
    /// applied by `boundApplied` (ignored when the manifest sets no bound).
    public init(manifest: FederationManifest, sums: AttentionSums, boundApplied: BoundApplication) {
        self.init(manifestHash: Self.hash(of: manifest), settings: manifest.attention, sums: sums, boundApplied: boundApplied)
    }

    /// Refuses a partial result not made under `manifest`: its hash, groups, anchors and bound.
    /// - Parameter file: the name used in the error.
    public func check(against manifest: FederationManifest, file: String) throws {
        try check(
            manifestHash: Self.hash(of: manifest), manifestName: manifest.url.lastPathComponent,
            settings: manifest.attention, model: manifest.model, file: file)
    }
}
