#!/usr/bin/env python3
"""Independent check of fedshare's threshold-Paillier batch decryption proof (Papers/threshold.md §1).

Reads Tests/TestVectors/threshold-batch-proof.json (written by
`FEDSHARE_WRITE_BATCH_PROOF_VECTOR=1 swift test --filter ThresholdBatchProofTests/writeVector`),
recomputes for every decryption share the batch digest, the 128-bit weights, C = prod c_j^w_j,
D = prod d_j^w_j mod n^2 and the Fiat-Shamir challenge, and checks the proof; then combines the
first t shares and compares with the plaintexts, and checks that a share with one value changed
(times 1 + n) and a share with the response changed both fail. Python standard library only.

    python3 Papers/scripts/threshold_batch_verify.py [vector.json]
"""
import base64
import hashlib
import json
import math
import pathlib
import sys

BATCH_LABEL = b"fedshare/threshold-paillier/batch/v1"
WEIGHTS_LABEL = b"fedshare/threshold-paillier/batch-weights/v1"
PROOF_LABEL = b"fedshare/threshold-paillier/batch-decryption-proof/v1"


def b64int(text):
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def minimal(value):
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big") if value else b""


def u64(value):
    return value.to_bytes(8, "big")


class Hasher:
    def __init__(self):
        self.h = hashlib.sha256()

    def field(self, data):
        self.h.update(u64(len(data)))
        self.h.update(data)
        return self

    def digest(self):
        return self.h.digest()


def batch_digest(key_id, ciphertexts):
    h = Hasher().field(BATCH_LABEL).field(key_id).field(u64(len(ciphertexts)))
    for c in ciphertexts:
        h.field(minimal(c))
    return h.digest()


def weights(key_id, party, context, digest, values, width):
    h = Hasher().field(WEIGHTS_LABEL).field(key_id).field(u64(party)).field(context).field(digest).field(u64(len(values)))
    for d in values:
        h.field(d.to_bytes(width, "big"))
    seed = h.digest()
    return [int.from_bytes(Hasher().field(seed).field(u64(j)).digest()[:16], "big") for j in range(len(values))]


def verify(key, key_id, ciphertexts, context, share):
    n = b64int(key["n"])
    n2 = n * n
    width = (n2.bit_length() + 7) // 8
    party = share["party"]
    values = [b64int(v) for v in share["values"]]
    digest = batch_digest(key_id, ciphertexts)
    if bytes.fromhex(share["batch"]) != digest or len(values) != len(ciphertexts):
        return False
    w = weights(key_id, party, context, digest, values, width)
    C = D = 1
    for c, d, wj in zip(ciphertexts, values, w):
        C = C * pow(c, wj, n2) % n2
        D = D * pow(d, wj, n2) % n2
    e = b64int(share["proof"]["e"])
    z = b64int(share["proof"]["z"])
    v = b64int(key["verificationBase"])
    vi = b64int(key["verificationKeys"][party - 1])
    a = pow(C, 4 * z, n2) * pow(pow(D, 2 * e, n2), -1, n2) % n2
    b = pow(v, z, n2) * pow(pow(vi, e, n2), -1, n2) % n2
    h = Hasher().field(PROOF_LABEL).field(key_id).field(u64(party)).field(context).field(digest).field(u64(len(values)))
    for element in (C, D, v, vi, a, b):
        h.field(element.to_bytes(width, "big"))
    return int.from_bytes(h.digest(), "big") == e


def combine(key, shares, count):
    n = b64int(key["n"])
    n2 = n * n
    delta = math.factorial(key["parties"])
    parties = [s["party"] for s in shares]
    out = []
    for j in range(count):
        product = 1
        for s in shares:
            i = s["party"]
            num, den = delta, 1
            for k in parties:
                if k != i:
                    num *= k
                    den *= k - i
            lam = num // den
            d = b64int(s["values"][j])
            product = product * pow(d, 2 * lam, n2) % n2
        out.append((product - 1) // n * pow(4 * delta * delta, -1, n) % n)
    return out


def main():
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2] / "Tests/TestVectors/threshold-batch-proof.json"
    vector = json.loads(path.read_text())
    key = vector["publicKey"]
    key_id = bytes.fromhex(key["keyID"])
    context = base64.urlsafe_b64decode(vector["context"] + "=" * (-len(vector["context"]) % 4))
    ciphertexts = [b64int(c) for c in vector["ciphertexts"]]
    plaintexts = [int(p) for p in vector["plaintexts"]]
    n = b64int(key["n"])
    ok = True
    for share in vector["shares"]:
        good = verify(key, key_id, ciphertexts, context, share)
        print(f"party {share['party']}: batch proof over {len(share['values'])} values {'verifies' if good else 'FAILS'}")
        ok &= good
        bad = json.loads(json.dumps(share))
        j = len(bad["values"]) // 2
        shifted = b64int(bad["values"][j]) * (n + 1) % (n * n)
        bad["values"][j] = base64.urlsafe_b64encode(minimal(shifted)).decode().rstrip("=")
        refused = not verify(key, key_id, ciphertexts, context, bad)
        bad = json.loads(json.dumps(share))
        bad["proof"]["z"] = base64.urlsafe_b64encode(minimal(b64int(bad["proof"]["z"]) + 1)).decode().rstrip("=")
        refused &= not verify(key, key_id, ciphertexts, context, bad)
        print(f"party {share['party']}: value {j} times 1 + n and a nudged response are {'refused' if refused else 'ACCEPTED'}")
        ok &= refused
    combined = combine(key, vector["shares"][: key["threshold"]], len(ciphertexts))
    print(f"combination of parties {[s['party'] for s in vector['shares'][: key['threshold']]]}: {'matches' if combined == plaintexts else 'DIFFERS FROM'} the plaintexts")
    ok &= combined == plaintexts
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
