#!/usr/bin/env python3
"""Independent verifier of SCAL3 evidence, for the idseal-scal3 interop test.

Written apart from the Rust code: P-256 point arithmetic and RFC 9380 hash_to_field
(expand_message_xmd with SHA-256) are implemented here from the specifications; ECDSA
verification uses the `cryptography` package.

Usage: verify_scal3.py CASES.json    (see tests/it/interop.rs for the format)
       verify_scal3.py --self-test
Exit status 0 when every case's verdict equals its "valid" field.
"""

import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# NIST P-256 (SEC 2 / FIPS 186-4).
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
H2_DST = b"FROST-P256-SHA256-v1chal"
DEVICE_LABEL = b"idseal-SCAL3-v1-device"


class Reject(Exception):
    """The evidence is not valid."""


def on_curve(pt):
    x, y = pt
    return (y * y - (x * x * x - 3 * x + B)) % P == 0


def add(p1, p2):
    """Affine addition; None is the point at infinity."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 - 3) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return (x3, (lam * (x1 - x3) - y1) % P)


def mul(k, pt):
    acc = None
    for bit in bin(k % N)[2:]:
        acc = add(acc, acc)
        if bit == "1":
            acc = add(acc, pt)
    return acc


def neg(pt):
    return None if pt is None else (pt[0], (-pt[1]) % P)


def decompress(data):
    if len(data) != 33 or data[0] not in (2, 3):
        raise Reject("bad point encoding")
    x = int.from_bytes(data[1:], "big")
    if x >= P:
        raise Reject("x out of range")
    rhs = (x * x * x - 3 * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)
    if y * y % P != rhs:
        raise Reject("not on curve")
    if y % 2 != data[0] - 2:
        y = P - y
    return (x, y)


def compress(pt):
    if pt is None:
        raise Reject("identity")
    x, y = pt
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def scalar(data):
    v = int.from_bytes(data, "big")
    if len(data) != 32 or v >= N:
        raise Reject("scalar out of range")
    return v


def expand_message_xmd(msg, dst, length):
    """RFC 9380 section 5.3.1 with SHA-256 (b_in_bytes 32, s_in_bytes 64)."""
    ell = -(-length // 32)
    if ell > 255 or len(dst) > 255:
        raise ValueError("bad xmd parameters")
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(bytes(64) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    out, prev = b"", bytes(32)
    for i in range(1, ell + 1):
        prev = hashlib.sha256(bytes(a ^ b for a, b in zip(b0, prev)) + bytes([i]) + dst_prime).digest()
        out += prev
    return out[:length]


def hash_to_scalar(msg, dst):
    """RFC 9380 hash_to_field, count 1, L = 48, modulo the group order."""
    return int.from_bytes(expand_message_xmd(msg, dst, 48), "big") % N


def ecdsa_ok(pub33, msg, sig):
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub33)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def check(vk_b, device_pk, c_b, z_b, d_b, device_msg, device_sig, binding_sig, client_data_hash):
    vk = decompress(vk_b)
    decompress(device_pk)
    decompress(d_b)
    c, z = scalar(c_b), scalar(z_b)
    if len(device_sig) != 64 or len(binding_sig) != 64:
        raise Reject("signature length")
    if not ecdsa_ok(d_b, device_sig, binding_sig):
        raise Reject("binding signature")
    if not ecdsa_ok(device_pk, device_msg, device_sig):
        raise Reject("device signature")
    r = add(mul(z, G), neg(mul(c, vk)))
    if r is None:
        raise Reject("R is the identity")
    m = d_b + client_data_hash
    if hash_to_scalar(compress(r) + vk_b + m, H2_DST) != c:
        raise Reject("joint signature")


def verify_case(case):
    h = lambda k: bytes.fromhex(case[k])  # noqa: E731
    if case["format"] == "idseal-v1":
        rec = h("record")
        if len(rec) != 274 or rec[0] != 1:
            raise Reject("record length or version")
        c, z, d_b, tag, enc_hash = rec[1:33], rec[33:65], rec[65:98], rec[98:114], rec[114:146]
        dev, bind = rec[146:210], rec[210:274]
        check(h("vk"), h("device_pk"), c, z, d_b, DEVICE_LABEL + c + tag + enc_hash, dev, bind,
              h("client_data_hash"))
    elif case["format"] == "reference-v0.2":
        auth, proof, client = h("authenticator"), h("proof"), h("client")
        if len(auth) != 48 or len(proof) != 64 or len(client) != 129:
            raise Reject("transcript lengths")
        check(h("vk"), h("device_pk"), auth[:32], client[97:], client[:33], auth, proof, client[33:97],
              h("client_data_hash"))
    else:
        raise ValueError("unknown format " + case["format"])


def self_test():
    k1 = expand_message_xmd(b"abc", b"QUUX-V01-CS02-with-expander-SHA256-128", 32).hex()
    assert k1 == "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615", k1
    assert on_curve(G) and mul(N, G) is None and add(mul(2, G), neg(G)) == G


def main(argv):
    self_test()
    if argv[1:] == ["--self-test"]:
        print("self-test ok")
        return 0
    cases = json.load(open(argv[1]))["cases"]
    failures = 0
    for case in cases:
        try:
            verify_case(case)
            verdict, why = True, "accepted"
        except Reject as e:
            verdict, why = False, "rejected: " + str(e)
        ok = verdict == case["valid"]
        failures += not ok
        print(("ok   " if ok else "FAIL ") + case["name"] + ": " + why)
    if failures:
        print(f"{failures} of {len(cases)} cases disagree")
        return 1
    print(f"{len(cases)} cases ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
