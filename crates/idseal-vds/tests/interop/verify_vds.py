#!/usr/bin/env python3
"""Independent verifier of idseal Visible Digital Seals (docs/vds.md).

Written from the specification, not from the Rust code: Base45 (RFC 9285) and C40 are decoded
here, MessagePack by the `msgpack` package, ECDSA P-256 by `cryptography`.

Usage: verify_vds.py DIR, where DIR holds public_key.hex (uncompressed P-256 point),
cases.json ([{"file", "expect": "valid"|"invalid", "fields"?}]) and the seal text files.
Exit 0 when every case behaves as expected, 1 otherwise, 3 when a package is missing.
"""

import base64
import binascii
import hashlib
import json
import pathlib
import sys

try:
    import msgpack
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError as exc:  # pragma: no cover
    print(f"missing package: {exc}; pip install -r crates/idseal-vds/tests/interop/requirements.txt",
          file=sys.stderr)
    sys.exit(3)

PINS = {"msgpack": "1.2.4", "cryptography": "50.0.2"}
B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
KEYS = ["gn", "fn", "dob", "nat", "doc", "tid", "exp", "photo", "face", "tl"]
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Refused(Exception):
    pass


def b45decode(text):
    if len(text) % 3 == 1:
        raise Refused("base45 length")
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = text[i:i + 3]
        try:
            vals = [B45.index(c) for c in chunk]
        except ValueError:
            raise Refused("base45 alphabet")
        n = sum(v * 45 ** k for k, v in enumerate(vals))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise Refused("base45 triplet")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise Refused("base45 pair")
            out.append(n)
    return bytes(out)


def c40decode(data):
    if len(data) % 2:
        raise Refused("c40 odd")
    chars = []
    for i in range(0, len(data), 2):
        hi, lo = data[i], data[i + 1]
        if hi == 0xFE:
            chars.append(chr(lo - 1))
            continue
        v = (hi << 8 | lo) - 1
        for c in (v // 1600, v // 40 % 40, v % 40):
            if c == 0:
                continue
            if c == 3:
                chars.append("<")
            elif 4 <= c <= 13:
                chars.append(chr(ord("0") + c - 4))
            elif 14 <= c <= 39:
                chars.append(chr(ord("A") + c - 14))
            else:
                raise Refused("c40 value")
    return "".join(chars)


def transport_decode(body):
    if body.startswith("03S"):
        return b45decode(body)
    if body[:4].upper() == "DE03":
        return binascii.unhexlify(body)
    if body.startswith("3gP"):
        if "-" in body or "_" in body or len(body) % 4:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return base64.b64decode(body, validate=True)
    raise Refused("unknown transport")


def parse(text):
    if not text.startswith("VDSEUA"):
        raise Refused("prefix")
    b = transport_decode(text[6:])
    if len(b) < 18 or b[0] != 0xDE or b[1] != 0x03:
        raise Refused("marker/version")
    if c40decode(b[2:4]) != "VDS":
        raise Refused("iac")
    cref = c40decode(b[4:10])
    header = {
        "ca": cref[:4],
        "cert": cref[4:],
        "manifest": int.from_bytes(b[10:13], "big"),
        "issued_at": int.from_bytes(b[13:17], "big"),
    }
    first = b[17]
    if first < 0x80:
        plen, hlen = first, 18
    else:
        n = first & 0x7F
        if n not in (1, 2, 3):
            raise Refused("length form")
        plen, hlen = int.from_bytes(b[18:18 + n], "big"), 18 + n
    if len(b) != hlen + plen + 64:
        raise Refused("lengths")
    return header, b[:hlen], b[hlen:hlen + plen], b[hlen + plen:]


def check_payload(payload):
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, max_bin_len=4096, max_str_len=4096)
    unpacker.feed(payload)
    items = list(unpacker)
    if len(items) != 1 or not isinstance(items[0], dict):
        raise Refused("payload is not one map")
    m = items[0]
    if list(m.keys()) != KEYS:
        raise Refused(f"keys {list(m.keys())}")
    if msgpack.packb(m, use_bin_type=True) != payload:
        raise Refused("payload not in canonical MessagePack form")
    for k in ("gn", "fn", "dob", "nat", "doc"):
        if not isinstance(m[k], str):
            raise Refused(f"{k} type")
    for k in ("tid", "photo", "face"):
        if not isinstance(m[k], bytes):
            raise Refused(f"{k} type")
    if len(m["gn"]) > 39 or not 1 <= len(m["fn"]) <= 39 or len(m["tid"]) != 16 or len(m["face"]) != 140:
        raise Refused("lengths")
    if m["photo"][:4] != b"RIFF" or m["photo"][8:12] != b"WEBP" or len(m["photo"]) > 2048:
        raise Refused("photo")
    if m["tl"] not in (1, 2, 3) or not isinstance(m["exp"], int):
        raise Refused("tl/exp")
    return m


def verify(pub, header_bytes, payload, sig):
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < N and 0 < s <= N // 2):
        raise Refused("signature scalars (low S only)")
    message = header_bytes + hashlib.sha256(payload).digest()
    try:
        pub.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused("bad signature")


def main(directory):
    import importlib.metadata as md
    for pkg, want in PINS.items():
        have = md.version(pkg)
        if have != want:
            print(f"warning: {pkg} {have} installed, {want} pinned", file=sys.stderr)
    d = pathlib.Path(directory)
    pub = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), bytes.fromhex((d / "public_key.hex").read_text().strip()))
    ok = True
    for case in json.loads((d / "cases.json").read_text()):
        text = (d / case["file"]).read_text()
        try:
            header, header_bytes, payload, sig = parse(text)
            fields = check_payload(payload)
            verify(pub, header_bytes, payload, sig)
            outcome, reason = "valid", ""
        except (Refused, ValueError, binascii.Error, msgpack.ExtraData, msgpack.FormatError,
                msgpack.StackError) as exc:
            outcome, reason = "invalid", str(exc)
        good = outcome == case["expect"]
        if good and outcome == "valid" and "fields" in case:
            got = dict(header)
            for k in KEYS:
                v = fields[k]
                got[k] = v.hex() if isinstance(v, bytes) else v
            if got != case["fields"]:
                good = False
                reason = f"fields differ: {got} != {case['fields']}"
        print(f"{'ok  ' if good else 'FAIL'} {case['file']}: {outcome} (expected {case['expect']}) {reason}")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
