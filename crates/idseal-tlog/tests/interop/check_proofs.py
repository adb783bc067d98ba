#!/usr/bin/env python3
"""Independent checker for idseal-tlog output.

Written from RFC 9162 (sections 2.1.3.2 and 2.1.4.2), c2sp.org/signed-note and
c2sp.org/tlog-checkpoint, without looking at the Rust code. It reads a JSON case file
written by tests/it/interop.rs and checks that every case marked valid verifies and
every case marked invalid does not.

Exit status: 0 all agree, 1 some case disagrees, 2 usage, 3 `cryptography` missing.
"""

import base64
import binascii
import hashlib
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as e:  # pragma: no cover
    print(f"missing Python package: {e}; pip install -r requirements.txt", file=sys.stderr)
    sys.exit(3)


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def verify_inclusion(leaf: bytes, index: int, size: int, path: list, root: bytes) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, path: list, first_hash: bytes, second_hash: bytes) -> bool:
    if first == 0 or first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + list(path)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


def parse_vkey(vkey: str):
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    assert raw[0] == 0x01 and len(raw) == 33, "not an Ed25519 verifier key"
    key_id = sha256(name.encode() + b"\n" + raw)[:4]
    assert key_id.hex() == hex_id, "key id does not match"
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_checkpoint(note: str, vkey: str, origin: str):
    """The (size, root) of a signed checkpoint, or None when it does not verify."""
    name, key_id, pub = parse_vkey(vkey)
    if not note.endswith("\n") or "\n\n" not in note:
        return None
    cut = note.rindex("\n\n")
    text, sigs = note[: cut + 1], note[cut + 2 :]
    good = 0
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            return None
        sig_name, b64 = line[2:].split(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            return None
        if sig_name != name or raw[:4] != key_id:
            continue
        try:
            pub.verify(raw[4:], text.encode())
        except InvalidSignature:
            return None
        good += 1
    if good == 0:
        return None
    lines = text[:-1].split("\n")
    if len(lines) < 3 or lines[0] != origin:
        return None
    if not lines[1].isdigit() or (len(lines[1]) > 1 and lines[1][0] == "0"):
        return None
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        return None
    return int(lines[1]), root


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: check_proofs.py CASES.json", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    h = bytes.fromhex
    wrong = []
    counts = {"inclusion": 0, "consistency": 0, "checkpoint": 0}
    for c in cases["inclusion"]:
        got = verify_inclusion(h(c["leaf"]), c["index"], c["size"], [h(p) for p in c["proof"]], h(c["root"]))
        counts["inclusion"] += 1
        if got != c["valid"]:
            wrong.append(("inclusion", c))
    for c in cases["consistency"]:
        got = verify_consistency(c["size1"], c["size2"], [h(p) for p in c["proof"]], h(c["root1"]), h(c["root2"]))
        counts["consistency"] += 1
        if got != c["valid"]:
            wrong.append(("consistency", c))
    for c in cases["checkpoints"]:
        opened = open_checkpoint(c["note"], c["vkey"], c["origin"])
        got = opened is not None and opened == (c["size"], h(c["root"]))
        counts["checkpoint"] += 1
        if got != c["valid"]:
            wrong.append(("checkpoint", c))
    print(f"checked {counts}; {len(wrong)} disagreements")
    for kind, c in wrong[:20]:
        print(f"DISAGREE {kind}: {json.dumps(c)[:400]}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
