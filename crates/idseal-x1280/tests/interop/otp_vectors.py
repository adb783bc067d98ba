#!/usr/bin/env python3
"""Independent implementation of the idseal X.1280 derivations (Python 3.11 standard library only).

Written from the crate documentation (crates/idseal-x1280/src/lib.rs), not from the Rust code:
autoPassword (HKDF-SHA256 + HMAC-SHA256 + RFC 4226 dynamic truncation), wsToken, the per-service
hash key and the response hash. HKDF is implemented here from RFC 5869.

Usage:
  otp_vectors.py SECRET_HEX TOKEN_ID SESSION_ID     prints the autoPassword
  otp_vectors.py --json < requests.json              answers a batch (see below)

Batch input:  {"otp": [{"secret": hex, "token_id": str, "session_id": str}, ...],
               "ws_token": [{"key": hex, "session_id": str}, ...],
               "service_key": [{"key": hex, "service_id": str}, ...],
               "response_hash": [{"service_key": hex, "session_id": str, "random": str, "jwt": str}, ...]}
Batch output: the same keys, each a list of strings in input order.
"""

import base64
import hashlib
import hmac
import json
import sys

OTP_SALT = b"idseal/x1280/otp/v1"
SERVICE_SALT = b"idseal/x1280/service-hash/v1"


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 extract-then-expand with SHA-256."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def length_prefixed(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > 0xFFFF:
        raise ValueError("identifier too long")
    return len(b).to_bytes(2, "big") + b


def auto_password(secret: bytes, token_id: str, session_id: str) -> str:
    info = length_prefixed(token_id) + length_prefixed(session_id)
    k = hkdf_sha256(OTP_SALT, secret, info, 32)
    m = hmac.new(k, b"autoPassword", hashlib.sha256).digest()
    offset = m[-1] & 0x0F
    value = int.from_bytes(m[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def ws_token(key: bytes, session_id: str) -> str:
    mac = hmac.new(key, b"idseal/x1280/ws/v1|" + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def service_key(key: bytes, service_id: str) -> str:
    return hkdf_sha256(SERVICE_SALT, key, service_id.encode(), 32).hex()


def response_hash(skey: bytes, session_id: str, random: str, jwt: str) -> str:
    msg = "idseal/x1280/response/v1|" + session_id + "|" + random + "|" + jwt
    return hmac.new(skey, msg.encode(), hashlib.sha256).hexdigest()


def batch(req: dict) -> dict:
    return {
        "otp": [auto_password(bytes.fromhex(r["secret"]), r["token_id"], r["session_id"]) for r in req.get("otp", [])],
        "ws_token": [ws_token(bytes.fromhex(r["key"]), r["session_id"]) for r in req.get("ws_token", [])],
        "service_key": [service_key(bytes.fromhex(r["key"]), r["service_id"]) for r in req.get("service_key", [])],
        "response_hash": [
            response_hash(bytes.fromhex(r["service_key"]), r["session_id"], r["random"], r["jwt"])
            for r in req.get("response_hash", [])
        ],
    }


def main() -> int:
    if len(sys.argv) == 2 and sys.argv[1] == "--json":
        json.dump(batch(json.load(sys.stdin)), sys.stdout)
        return 0
    if len(sys.argv) == 4:
        print(auto_password(bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
