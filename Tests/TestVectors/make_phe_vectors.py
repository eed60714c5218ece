#!/usr/bin/env python3
"""Writes phe_interop.json: a python-paillier 1.5 (pip package `phe`) private key in pheutil's
JSON, ciphertexts it made (encrypt, add, addenc, multiply exactly as pheutil does them) and the
values python-paillier decrypts them to. TEST-ONLY key material: never use this key.

Run: python3 Tests/TestVectors/make_phe_vectors.py > Tests/TestVectors/phe_interop.json
"""
import json
import phe
from phe import util
from phe.command_line import serialise_encrypted

pub, priv = phe.generate_paillier_keypair(n_length=2048)
jwk_public = {"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": util.int_to_base64(pub.n),
              "kid": "TEST-ONLY python-paillier interop key"}
jwk_private = {"kty": "DAJ", "key_ops": ["decrypt"], "p": util.int_to_base64(priv.p),
               "q": util.int_to_base64(priv.q), "pub": jwk_public, "kid": "TEST-ONLY python-paillier interop key"}

values = [0.0, 1.0, -1.0, 3.5, -2.25, 0.1, 1e-5, 123456.789, -9.87654321e10, 2.0 ** 40, 1e-12]
cases = []
for x in values:
    enc = pub.encrypt(x)
    cases.append({"op": "encrypt", "x": x, "ciphertext": json.loads(serialise_encrypted(enc)),
                  "decrypted": repr(priv.decrypt(enc.decrease_exponent_to(min(enc.exponent, -32))))})
for x, y in [(3.5, 10.0), (-2.25, 0.5), (0.1, 0.2), (1e6, -1e-3)]:
    enc = pub.encrypt(x)
    s = serialise_encrypted(enc)
    e1 = phe.EncryptedNumber(pub, int(json.loads(s)["v"]), exponent=json.loads(s)["e"])
    added = e1 + y
    cases.append({"op": "add", "x": x, "y": y, "input": json.loads(s), "ciphertext": json.loads(serialise_encrypted(added)),
                  "decrypted": repr(priv.decrypt(added))})
    multiplied = e1 * y
    cases.append({"op": "multiply", "x": x, "y": y, "input": json.loads(s), "ciphertext": json.loads(serialise_encrypted(multiplied)),
                  "decrypted": repr(priv.decrypt(multiplied))})
    e2 = pub.encrypt(y)
    summed = e1 + e2
    cases.append({"op": "addenc", "x": x, "y": y, "ciphertext": json.loads(serialise_encrypted(summed)),
                  "decrypted": repr(priv.decrypt(summed))})

print(json.dumps({"_comment": "Made by make_phe_vectors.py with python-paillier " + phe.__version__ + ". TEST-ONLY key.",
                  "private_key": jwk_private, "cases": cases}, indent=1))
