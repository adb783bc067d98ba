#!/usr/bin/env python3
"""Interop check of idseal-keys against independent implementations.

Run by the Rust integration test crates/idseal-keys/tests/it/interop.rs as

    python3 verify_jws.py <dir>

1. Verifies what idseal produced: <dir>/ours/jwks.json and <dir>/ours/tokens.json.
   RS256, ES256 and EdDSA tokens with jwcrypto (keys loaded from our JWK Set, kid checked
   against the RFC 7638 thumbprint jwcrypto computes); the ML-DSA-65 token with dilithium-py
   (pure-Python FIPS 204) and also with jwcrypto (pyca/cryptography, RFC 9964 AKP keys).
   For every token, one changed payload character must make verification fail.
2. Creates keys and tokens of its own and writes <dir>/theirs/jwks.json and
   <dir>/theirs/tokens.json for the Rust side to verify.

Exit codes: 0 all checks passed, 1 a check failed, 2 usage, 3 a package is missing.
"""

import base64
import json
import os
import sys

INSTALL_HINT = "pip install -r crates/idseal-keys/tests/interop/requirements.txt"

try:
    from dilithium_py.ml_dsa import ML_DSA_65
    from jwcrypto import jwk, jws
    from jwcrypto.common import JWKeyNotFound
except ImportError as exc:
    print(
        f"interop: a required Python package is missing ({exc}).\n"
        f"interop: install the pinned versions with: {INSTALL_HINT}",
        file=sys.stderr,
    )
    sys.exit(3)

EXPECTED_ALGS = {"RS256", "ES256", "EdDSA", "ML-DSA-65"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}
ML_DSA_65_PUBLIC_LEN = 1952
ML_DSA_65_SIG_LEN = 3309


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def b64u_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    check("=" not in text, f"base64url with padding: {text[:16]}...")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def warn_on_version_drift():
    """Warn (not fail) when installed versions differ from the pins in requirements.txt."""
    from importlib import metadata

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" not in line:
                continue
            name, pinned = (s.strip() for s in line.split("==", 1))
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = None
            if installed != pinned:
                print(
                    f"interop: warning: {name} {installed} installed, {pinned} pinned ({INSTALL_HINT})",
                    file=sys.stderr,
                )


def tamper(token):
    """The same token with one payload character changed."""
    h, p, s = token.split(".")
    i = len(p) // 2
    c = "A" if p[i] != "A" else "B"
    changed = f"{h}.{p[:i]}{c}{p[i + 1:]}.{s}"
    check(changed != token, "tampering changed nothing")
    return changed


def jwcrypto_verify(token, key, alg):
    """Verify `token` with a jwcrypto JWK, or a JWKSet (key chosen by kid); return the payload."""
    t = jws.JWS()
    t.allowed_algs = [alg]
    t.deserialize(token)
    t.verify(key)
    return t.payload


def jwcrypto_rejects(token, key, keyset, alg):
    """Whether jwcrypto refuses `token` as a bad signature, with its key and with the whole set."""
    refused = 0
    try:
        jwcrypto_verify(token, key, alg)
    except jws.InvalidJWSSignature:
        refused += 1
    try:
        jwcrypto_verify(token, keyset, alg)
    except JWKeyNotFound:  # what jwcrypto raises when no key of the set verifies
        refused += 1
    return refused == 2


def dilithium_verify(token, public):
    h, p, s = token.split(".")
    return ML_DSA_65.verify(public, f"{h}.{p}".encode("ascii"), b64u_decode(s))


def verify_ours(d):
    with open(os.path.join(d, "ours", "jwks.json"), encoding="utf-8") as f:
        jwks_text = f.read()
    with open(os.path.join(d, "ours", "tokens.json"), encoding="utf-8") as f:
        tokens = json.load(f)

    jwks_doc = json.loads(jwks_text)
    members = jwks_doc["keys"]
    check(len(members) == len(EXPECTED_ALGS), f"expected {len(EXPECTED_ALGS)} keys, got {len(members)}")
    check({m["alg"] for m in members} == EXPECTED_ALGS, "JWKS does not hold one key per algorithm")
    check(len({m["kid"] for m in members}) == len(members), "duplicate kid in JWKS")
    # The whole document through jwcrypto's JWK Set parser, as a relying party would load it.
    keyset = jwk.JWKSet.from_json(jwks_text)
    check(len(keyset["keys"]) == len(members), "jwcrypto dropped keys from the JWK Set")

    by_kid = {}
    for m in members:
        leaked = PRIVATE_MEMBERS & set(m)
        check(not leaked, f"{m['kid']}: private members {sorted(leaked)} published")
        check(m.get("use") == "sig", f"{m['kid']}: use is {m.get('use')!r}")
        key = keyset.get_key(m["kid"])
        check(key is not None, f"{m['kid']}: not found in jwcrypto's JWK Set")
        check(not key.has_private, f"{m['kid']}: jwcrypto sees a private key")
        # kid is the RFC 7638 thumbprint (RFC 9964 §6 for AKP: alg, kty, pub).
        thumb = key.thumbprint()
        check(thumb == m["kid"], f"{m['alg']}: kid {m['kid']} != jwcrypto thumbprint {thumb}")
        # Building the pyca key object validates the material (EC point on the curve, ...).
        pub = key.get_op_key("verify")
        if m["kty"] == "RSA":
            check(pub.key_size == 2048, f"RSA key size {pub.key_size}")
        if m["kty"] == "AKP":
            check(len(b64u_decode(m["pub"])) == ML_DSA_65_PUBLIC_LEN, "ML-DSA-65 public key length")
        by_kid[m["kid"]] = m
        print(f"ok: ours {m['alg']} JWK loads in jwcrypto, kid is its thumbprint")

    check({t["alg"] for t in tokens} == EXPECTED_ALGS, "not one token per algorithm")
    for t in tokens:
        alg, token, payload = t["alg"], t["token"], t["payload"].encode("utf-8")
        header = json.loads(b64u_decode(token.split(".")[0]))
        check(header.get("alg") == alg, f"header alg {header.get('alg')!r} != {alg}")
        m = by_kid.get(header.get("kid"))
        check(m is not None and m["alg"] == alg, f"{alg}: header kid does not name a {alg} key")

        key = keyset.get_key(m["kid"])
        for verifier in (key, keyset):
            got = jwcrypto_verify(token, verifier, alg)
            check(got == payload, f"{alg}: payload differs after jwcrypto verification")
        bad = tamper(token)
        check(jwcrypto_rejects(bad, key, keyset, alg), f"{alg}: jwcrypto ACCEPTED a tampered token")
        print(f"ok: ours {alg} token verifies in jwcrypto, tampered one fails")

        if alg == "ML-DSA-65":
            public = b64u_decode(m["pub"])
            check(len(b64u_decode(token.split(".")[2])) == ML_DSA_65_SIG_LEN, "ML-DSA-65 signature length")
            check(dilithium_verify(token, public) is True, "ML-DSA-65: dilithium-py rejected our token")
            check(dilithium_verify(bad, public) is False, "ML-DSA-65: dilithium-py ACCEPTED a tampered token")
            print("ok: ours ML-DSA-65 token verifies in dilithium-py, tampered one fails")


def public_jwk(key, alg):
    """A public JWK in the shape idseal publishes: kty members + kid (thumbprint), use, alg."""
    m = key.export_public(as_dict=True)
    m.update(alg=alg, use="sig", kid=key.thumbprint())
    return m


def make_theirs(d):
    out = os.path.join(d, "theirs")
    os.makedirs(out, exist_ok=True)
    keys, tokens = [], []

    def payload_for(label):
        return json.dumps({"iss": "https://python.interop.test", "sub": label, "note": "h\u00e9llo \u2713"})

    for label, alg, params in [
        ("jwcrypto RS256", "RS256", {"kty": "RSA", "size": 2048}),
        ("jwcrypto ES256", "ES256", {"kty": "EC", "crv": "P-256"}),
        ("jwcrypto EdDSA", "EdDSA", {"kty": "OKP", "crv": "Ed25519"}),
        ("jwcrypto ML-DSA-65", "ML-DSA-65", {"kty": "AKP", "alg": "ML-DSA-65"}),
    ]:
        key = jwk.JWK.generate(**params)
        m = public_jwk(key, alg)
        payload = payload_for(label)
        s = jws.JWS(payload.encode("utf-8"))
        s.add_signature(key, alg=alg, protected=json.dumps({"alg": alg, "kid": m["kid"], "typ": "JWT"}))
        keys.append(m)
        tokens.append({"label": label, "alg": alg, "kid": m["kid"], "token": s.serialize(compact=True), "payload": payload})

    # ML-DSA-65 with dilithium-py: the JWS by hand, signing input = ASCII b64u(header).b64u(payload).
    pk, sk = ML_DSA_65.keygen()
    akp = jwk.JWK(kty="AKP", alg="ML-DSA-65", pub=b64u_encode(pk))
    m = {"kty": "AKP", "alg": "ML-DSA-65", "use": "sig", "kid": akp.thumbprint(), "pub": b64u_encode(pk)}
    label = "dilithium-py ML-DSA-65"
    payload = payload_for(label)
    header = json.dumps({"alg": "ML-DSA-65", "kid": m["kid"], "typ": "JWT"}).encode("utf-8")
    signing_input = f"{b64u_encode(header)}.{b64u_encode(payload.encode('utf-8'))}"
    sig = ML_DSA_65.sign(sk, signing_input.encode("ascii"))
    token = f"{signing_input}.{b64u_encode(sig)}"
    # Sanity: the other Python implementation agrees before Rust sees it.
    check(
        jwcrypto_verify(token, jwk.JWKSet.from_json(json.dumps({"keys": [m]})), "ML-DSA-65") == payload.encode(),
        "dilithium-py token does not verify in jwcrypto",
    )
    keys.append(m)
    tokens.append({"label": label, "alg": "ML-DSA-65", "kid": m["kid"], "token": token, "payload": payload})

    with open(os.path.join(out, "jwks.json"), "w", encoding="utf-8") as f:
        json.dump({"keys": keys}, f, indent=2)
    with open(os.path.join(out, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump(tokens, f, indent=2)
    print(f"ok: wrote {len(tokens)} tokens and their JWK Set to {out}")


def main():
    if len(sys.argv) != 2:
        print("usage: verify_jws.py <dir>", file=sys.stderr)
        return 2
    warn_on_version_drift()
    try:
        verify_ours(sys.argv[1])
        make_theirs(sys.argv[1])
    except CheckFailed as exc:
        print(f"interop: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
