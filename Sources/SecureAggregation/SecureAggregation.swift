// The SecureAggregation module: Bonawitz et al. double-masking secure aggregation (CCS'17) with
// the SecAgg+ sparse graphs of Bell et al. (CCS'20), as socket-free state machines.
//
// Protocol (one round; parties 0..<n, threshold t):
//   0. AdvertiseKeys   each party sends two X25519 public keys: s_u^PK (pairwise masks) and
//                      c_u^PK (share channel).
//   1. ShareKeys       the server broadcasts the key directory; each party recomputes the
//                      session id SHA-256(config ‖ all keys) itself, derives the sharing graph
//                      from it, and sends each live neighbour an AES-256-GCM ciphertext (key
//                      HKDF(X25519(c_u, c_v), salt: session id, info: sender ‖ recipient); AD:
//                      session id ‖ round ‖ sender ‖ recipient) holding Shamir t-of-(k+1)
//                      shares of its self-mask seed b_u and of s_u^SK.
//   2. MaskedInput     y_u = x_u + PRG(b_u) + Σ_{v<u} PRG(s_uv) − Σ_{v>u} PRG(s_uv) mod 2^64,
//                      over the neighbours whose shares arrived; PRG = AES-256-CTR under
//                      HKDF(secret, salt: session id, info: kind ‖ round ‖ vector name ‖ length ‖ ids).
//   2½. Consistency    (`consistencyCheck` only) the server sends the survivors U3 to each of
//                      them; each checks it against its own view and signs it; the unmasking
//                      request carries ≥ t survivors' signatures, and a client reveals nothing
//                      unless they all verify over the very set it signed and alive = that set.
//   3. Unmasking       each survivor reveals, per neighbour, the b-share if the server lists it
//                      alive or the s^SK-share if it lists it dead — never both; the server
//                      reconstructs, removes the self masks of survivors and the pairwise masks
//                      of the dead.
//
// Decisions:
// - Shamir over GF(2^61 − 1), secrets split into five 7-byte chunks; branch-free field arithmetic.
// - The Harary permutation is derived from the session id (HKDF → AES-CTR → Fisher–Yates): the
//   server cannot choose it unless it colludes with a party that grinds its own keys.
// - Threat model: honest-but-curious server by default; the client-side checks stop a server
//   that lists one peer both alive and dead to one client. Against a server that tells
//   different clients different stories (Bonawitz et al.'s malicious server), turn on
//   `consistencyCheck` and give every client a `SecAggAuthenticator`: advertised keys are then
//   signed (no substitution), survivor sets are signed, and 2t > neighbourhood size is enforced,
//   so two disjoint groups of t signers (or t share holders) cannot both exist.
// - Ring Z_2^64 (inputs from `FixedPointCodec.encodeToRing64`), so no rejection sampling is
//   needed in the mask PRG.
