#!/usr/bin/env python3
"""Independent verifier of idseal's hybrid ID-token signature.

    python3 verify_pq_sig.py <jwks.json path or URL> <id_token>
    python3 verify_pq_sig.py --self-test

Checks, with libraries not written by the idseal project:
  1. the ID token's JWS signature against the JWKS (jwcrypto; the key is chosen by the header's kid,
     and only the header's own algorithm is allowed);
  2. the `pq_sig` claim {alg, kid, sig}: the other claims, canonicalised with RFC 8785 (JCS, implemented
     below), must verify under the JWKS key whose kid is pq_sig.kid: ML-DSA-65 (kty AKP) with
     dilithium-py (FIPS 204, empty context), or Ed25519 (kty OKP, crv Ed25519) with pyca/cryptography.
     The key's own `alg` (when present) must match pq_sig.alg.

Prints "ok" and exits 0 when both pass; otherwise prints the reason on stderr and exits 1 (2 for usage).
Install the pinned dependencies with: pip install -r interop/pqsig/requirements.txt
"""

import base64
import json
import math
import sys
import urllib.request

SUPPORTED_JWS_ALGS = ("RS256", "ES256", "EdDSA", "Ed25519", "ML-DSA-65")


class Failure(Exception):
    """A verification failure, with the reason."""


def b64u_decode(s):
    if not isinstance(s, str) or "=" in s or any(c.isspace() for c in s):
        raise Failure(f"not unpadded base64url: {s!r:.40}")
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except ValueError as e:
        raise Failure(f"bad base64url: {e}") from e


# --- RFC 8785 JSON Canonicalization Scheme ----------------------------------------------------------


def jcs(value):
    """The RFC 8785 canonical form of a JSON value (as parsed by json.loads), as a str."""
    out = []
    _jcs(value, out)
    return "".join(out)


def _jcs(value, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float)):
        out.append(_jcs_number(value))
    elif isinstance(value, str):
        out.append(_jcs_string(value))
    elif isinstance(value, list):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _jcs(v, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        # §3.2.3: sort by the UTF-16 code units of the keys.
        for i, k in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))):
            if i:
                out.append(",")
            out.append(_jcs_string(k))
            out.append(":")
            _jcs(value[k], out)
        out.append("}")
    else:
        raise Failure(f"not a JSON value: {type(value).__name__}")


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _jcs_string(s):
    """§3.2.2.2: escape only '"', '\\' and control characters below U+0020 (short forms where JSON has them,
    else \\u00xx in lower-case hex); everything else, '/' and U+007F included, is written as is."""
    out = ['"']
    for c in s:
        if c in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[c])
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04x}")
        elif 0xD800 <= ord(c) <= 0xDFFF:
            raise Failure("lone surrogate in a string (not valid I-JSON)")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _jcs_number(n):
    """§3.2.2.3: ECMAScript Number.prototype.toString of the IEEE 754 double."""
    if isinstance(n, int):
        if abs(n) > 2**53:
            raise Failure(f"integer {n} is outside the I-JSON range")
        n = float(n)
    if math.isnan(n) or math.isinf(n):
        raise Failure("NaN and Infinity are not JSON")
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    # Shortest round-trip digits and exponent, as ECMAScript's algorithm needs them.
    mantissa, _, exp = repr(abs(n)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    point = len(int_part) + (int(exp) if exp else 0)  # decimal point position relative to int_part start
    point -= len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    k, e = len(digits), point  # value = 0.digits * 10^e
    if k <= e <= 21:
        return sign + digits + "0" * (e - k)
    if 0 < e <= 21:
        return sign + digits[:e] + "." + digits[e:]
    if -6 < e <= 0:
        return sign + "0." + "0" * (-e) + digits
    exp_str = f"{e - 1:+d}"
    if k == 1:
        return sign + digits + "e" + exp_str
    return sign + digits[0] + "." + digits[1:] + "e" + exp_str


def self_test():
    """RFC 8785 vectors (§3.2.2.3 numbers, §3.2.3 sorting, Appendix-style strings)."""
    numbers = [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (333333333.3333333, "333333333.3333333"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (0.000001000, "0.000001"),
        (1e23, "1e+23"),
        (9007199254740992.0, "9007199254740992"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-5e-324, "-5e-324"),
        (1700000000, "1700000000"),
    ]
    for value, want in numbers:
        got = _jcs_number(value)
        if got != want:
            raise Failure(f"JCS number {value!r}: got {got}, want {want}")
    # RFC 8785 §3.2.2 example (numbers, literals, string escaping).
    rfc_input = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    rfc_want = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    if jcs(rfc_input) != rfc_want:
        raise Failure(f"JCS RFC 8785 §3.2.2 example: got {jcs(rfc_input)}")
    # RFC 8785 §3.2.3 sorting example (UTF-16 code units: surrogate pair sorts before U+FB33).
    sort_input = json.loads(
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",'
        ' "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small'
        ' Letter O With Diaeresis"}'
    )
    sort_want = [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    got_order = list(json.loads(jcs(sort_input)).values())
    if got_order != sort_want:
        raise Failure(f"JCS §3.2.3 sort order: got {got_order}")
    # Only controls below U+0020 are escaped: '/' and U+007F stay literal.
    if jcs({"a": "/\u007f\u001f"}) != '{"a":"/\u007f\\u001f"}':
        raise Failure("JCS string escaping of / U+007F U+001F")
    if jcs({"b": [1, {"z": 1, "a": "x"}], "a": None}) != '{"a":null,"b":[1,{"a":"x","z":1}]}':
        raise Failure("JCS nesting")
    for bad in (float("nan"), 2**53 + 1):
        try:
            jcs(bad)
        except Failure:
            continue
        raise Failure(f"JCS accepted {bad!r}")
    print("ok")


# --- Verification ------------------------------------------------------------------------------------


def load_jwks(source):
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:  # noqa: S310 (test tool, URL given by hand)
            text = response.read().decode("utf-8")
    else:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    jwks = json.loads(text)
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise Failure("the JWKS has no 'keys' array")
    return text, jwks


def verify_jws(token, jwks_text):
    """Verify the compact JWS with jwcrypto; return the payload bytes."""
    from jwcrypto import jwk, jws

    parts = token.split(".")
    if len(parts) != 3:
        raise Failure("the ID token is not a compact JWS")
    header = json.loads(b64u_decode(parts[0]))
    alg = header.get("alg")
    if alg not in SUPPORTED_JWS_ALGS:
        raise Failure(f"unsupported JWS alg {alg!r}")
    if not header.get("kid"):
        raise Failure("the JWS header has no kid")
    keyset = jwk.JWKSet.from_json(jwks_text)
    if keyset.get_key(header["kid"]) is None:
        raise Failure(f"no JWKS key with the JWS kid {header['kid']!r}")
    t = jws.JWS()
    t.allowed_algs = [alg]
    try:
        t.deserialize(token)
        t.verify(keyset)
    except Exception as e:  # jwcrypto raises several types; any of them is a failure
        raise Failure(f"JWS signature ({alg}, kid {header['kid']}) does not verify: {type(e).__name__}: {e}") from e
    return t.payload


def verify_pq_sig(claims, jwks):
    pq = claims.pop("pq_sig", None)
    if not isinstance(pq, dict):
        raise Failure("the ID token has no pq_sig object")
    alg, kid, sig = pq.get("alg"), pq.get("kid"), pq.get("sig")
    if not all(isinstance(v, str) for v in (alg, kid, sig)):
        raise Failure(f"malformed pq_sig: {pq}")
    keys = [k for k in jwks["keys"] if isinstance(k, dict) and k.get("kid") == kid]
    if len(keys) != 1:
        raise Failure(f"{len(keys)} JWKS keys have the pq_sig kid {kid!r}")
    key = keys[0]
    if "alg" in key and key["alg"] != alg:
        raise Failure(f"pq_sig.alg {alg} does not match the key's alg {key['alg']}")
    message = jcs(claims).encode("utf-8")
    signature = b64u_decode(sig)
    if alg == "ML-DSA-65":
        from dilithium_py.ml_dsa import ML_DSA_65

        if key.get("kty") != "AKP":
            raise Failure(f"ML-DSA-65 key {kid} has kty {key.get('kty')}, not AKP")
        public = b64u_decode(key.get("pub", ""))
        if len(public) != 1952 or len(signature) != 3309:
            raise Failure("ML-DSA-65 public key or signature has the wrong length")
        if ML_DSA_65.verify(public, message, signature, ctx=b"") is not True:
            raise Failure("pq_sig (ML-DSA-65) does not verify over the JCS claims")
    elif alg in ("EdDSA", "Ed25519"):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            raise Failure(f"Ed25519 key {kid} is not kty OKP / crv Ed25519")
        try:
            Ed25519PublicKey.from_public_bytes(b64u_decode(key.get("x", ""))).verify(signature, message)
        except (InvalidSignature, ValueError) as e:
            raise Failure(f"pq_sig (Ed25519) does not verify over the JCS claims: {type(e).__name__}") from e
    else:
        raise Failure(f"unsupported pq_sig alg {alg!r}")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    jwks_text, jwks = load_jwks(argv[1])
    payload = verify_jws(argv[2].strip(), jwks_text)
    claims = json.loads(payload)
    if not isinstance(claims, dict):
        raise Failure("the ID token payload is not a JSON object")
    verify_pq_sig(claims, jwks)
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
