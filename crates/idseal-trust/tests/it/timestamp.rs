//! XAdES level T with `openssl ts` as the time-stamping authority (ECDSA P-256, P-384 and RSA
//! TSAs): requests cross-checked against openssl's, responses parsed and verified here and by
//! `openssl ts -verify`, the token embedded and verified with the list, and the refusals. These
//! tests FAIL when `openssl` is missing (Debian: `apt-get install openssl`).

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idseal_keys::Algorithm;
use idseal_trust::TrustError;
use idseal_trust::timestamp::{MAX_TOKEN_BYTES, parse_response, request, verify_token};
use idseal_trust::xmldsig::{add_signature_timestamp, sign_enveloped, signature_value_imprint, verify_enveloped};
use idseal_types::UnixTime;

use crate::xmldsig::{LIST, signer};

const AT: UnixTime = UnixTime::from_secs(1_790_000_000);

fn openssl(args: &[&str], dir: &Path) -> Output {
    match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run `openssl` ({e}): the time-stamp tests need it (apt-get install openssl)"),
    }
}

fn ok(args: &[&str], dir: &Path) -> Output {
    let o = openssl(args, dir);
    assert!(o.status.success(), "openssl {args:?} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An `openssl ts` TSA in a temporary directory.
struct Tsa {
    dir: tempfile::TempDir,
    certificate_der: Vec<u8>,
}

impl Tsa {
    /// `kind`: "p256", "p384" or "rsa".
    fn new(kind: &str) -> Tsa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (keygen, digest): (&[&str], &str) = match kind {
            "p256" => (&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "sha256"),
            "p384" => (&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "sha384"),
            _ => (&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "sha256"),
        };
        ok(&[&["genpkey"], keygen, &["-out", "tsa.key"]].concat(), d);
        ok(
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "tsa.key",
                "-subj",
                &format!("/CN=Test TSA {kind}"),
                "-days",
                "2",
                "-addext",
                "extendedKeyUsage=critical,timeStamping",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-out",
                "tsa.pem",
            ],
            d,
        );
        ok(&["x509", "-in", "tsa.pem", "-outform", "DER", "-out", "tsa.der"], d);
        // ESS: ESSCertID (SHA-1) for p384, ESSCertIDv2 with SHA-384 for rsa, SHA-256 (default, omitted) for p256.
        let ess = match kind {
            "p384" => "sha1",
            "rsa" => "sha384",
            _ => "sha256",
        };
        let config = format!(
            "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\nserial = ./serial\ncrypto_device = builtin\n\
             signer_digest = {digest}\ndefault_policy = 1.2.3.4.1\nother_policies = 1.2.3.4.2\n\
             digests = sha256, sha384, sha512\naccuracy = secs:1, millisecs:500\nordering = yes\ntsa_name = yes\n\
             ess_cert_id_chain = no\ness_cert_id_alg = {ess}\n"
        );
        std::fs::write(d.join("tsa.cnf"), config).unwrap();
        std::fs::write(d.join("serial"), "01\n").unwrap();
        let certificate_der = std::fs::read(d.join("tsa.der")).unwrap();
        Tsa { dir, certificate_der }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The DER TimeStampResp for the request bytes `req`.
    fn reply(&self, req: &[u8]) -> Vec<u8> {
        std::fs::write(self.path().join("req.tsq"), req).unwrap();
        ok(
            &[
                "ts",
                "-reply",
                "-queryfile",
                "req.tsq",
                "-config",
                "tsa.cnf",
                "-inkey",
                "tsa.key",
                "-signer",
                "tsa.pem",
                "-out",
                "resp.tsr",
            ],
            self.path(),
        );
        std::fs::read(self.path().join("resp.tsr")).unwrap()
    }

    /// Time-stamp `signed_xml`: (response DER, token DER).
    fn stamp(&self, signed_xml: &str, nonce: u64) -> (Vec<u8>, Vec<u8>) {
        let resp = self.reply(&request(&signature_value_imprint(signed_xml).unwrap(), nonce));
        let token = parse_response(&resp).unwrap();
        (resp, token)
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn request_matches_openssl_and_openssl_reads_ours() {
    let dir = tempfile::tempdir().unwrap();
    let imprint: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7 % 256).unwrap());
    ok(&["ts", "-query", "-digest", &hex(&imprint), "-sha256", "-cert", "-no_nonce", "-out", "o.tsq"], dir.path());
    let theirs = std::fs::read(dir.path().join("o.tsq")).unwrap();
    for nonce in [0u64, 1, 0x7F, 0x80, 0x1234_5678_9ABC_DEF0, u64::MAX] {
        let ours = request(&imprint, nonce);
        // Ours = SEQUENCE { version, messageImprint, nonce, certReq }; without the nonce it is
        // byte for byte openssl's.
        let body = &ours[2..];
        assert_eq!(usize::from(ours[1]), body.len());
        let nonce_at = 3 + 51;
        assert_eq!(body[nonce_at], 0x02);
        let nonce_len = 2 + usize::from(body[nonce_at + 1]);
        let mut without = body[..nonce_at].to_vec();
        without.extend_from_slice(&body[nonce_at + nonce_len..]);
        let mut rebuilt = vec![0x30, u8::try_from(without.len()).unwrap()];
        rebuilt.extend_from_slice(&without);
        assert_eq!(rebuilt, theirs, "nonce {nonce}");
        std::fs::write(dir.path().join("ours.tsq"), &ours).unwrap();
        let text = ok(&["ts", "-query", "-in", "ours.tsq", "-text"], dir.path());
        let text = String::from_utf8_lossy(&text.stdout).to_lowercase();
        assert!(text.contains(&hex(&imprint)[..8]) || text.contains("00 07 0e"), "{text}");
        let printed = text.lines().find_map(|l| l.trim().strip_prefix("nonce: 0x")).unwrap();
        assert_eq!(u128::from_str_radix(printed, 16).unwrap(), u128::from(nonce), "{text}");
        assert!(text.contains("certificate required: yes"), "{text}");
    }
}

#[test]
fn level_t_round_trip_with_openssl_tsa() {
    for kind in ["p256", "rsa", "p384"] {
        let tsa = Tsa::new(kind);
        for alg in [Algorithm::Es256, Algorithm::Rs256] {
            let doc = sign_enveloped(LIST, &signer(alg), AT).unwrap();
            let bb = verify_enveloped(&doc).unwrap();
            assert_eq!(bb.signature_timestamp, None);
            let imprint = signature_value_imprint(&doc).unwrap();
            let nonce = 0x8000_0000_0000_0001u64 ^ u64::try_from(now()).unwrap();
            let (resp, token_der) = tsa.stamp(&doc, nonce);

            // Independent check of the same response by openssl.
            ok(
                &[
                    "ts",
                    "-verify",
                    "-in",
                    "resp.tsr",
                    "-digest",
                    &hex(&imprint),
                    "-CAfile",
                    "tsa.pem",
                    "-untrusted",
                    "tsa.pem",
                ],
                tsa.path(),
            );
            assert!(resp.len() > token_der.len());

            let token = verify_token(&token_der).unwrap();
            assert_eq!(token.imprint, imprint);
            assert!(token.has_nonce(nonce) && !token.has_nonce(nonce ^ 1), "{kind}");
            assert_eq!(token.tsa_certificate_der, tsa.certificate_der);
            assert!((token.gen_time.as_secs() - now()).abs() < 60, "{kind}: {:?}", token.gen_time);

            let t_doc = add_signature_timestamp(&doc, &token_der).unwrap();
            assert!(
                t_doc.contains(
                    "<xades:UnsignedProperties><xades:UnsignedSignatureProperties><xades:SignatureTimeStamp>"
                )
            );
            let v = verify_enveloped(&t_doc).unwrap();
            assert_eq!(v.signature_timestamp.as_ref(), Some(&token), "{kind}");
            assert_eq!(v.signed_document, bb.signed_document);
            assert_eq!(v.certificate_der, bb.certificate_der);
            assert_eq!(v.signing_time, Some(AT));
            // The B-B part is unchanged, so the imprint is too; a second time-stamp is refused.
            assert_eq!(signature_value_imprint(&t_doc).unwrap(), imprint);
            assert!(matches!(add_signature_timestamp(&t_doc, &token_der), Err(TrustError::SignatureForm(_))));
        }
    }
}

#[test]
fn tsa_refusal_is_an_error() {
    let tsa = Tsa::new("p256");
    // A SHA-1 imprint: the TSA (digests = sha256, sha384, sha512) answers with status rejection.
    ok(&["ts", "-query", "-digest", &"ab".repeat(20), "-sha1", "-cert", "-out", "sha1.tsq"], tsa.path());
    let resp = tsa.reply(&std::fs::read(tsa.path().join("sha1.tsq")).unwrap());
    let err = parse_response(&resp).unwrap_err();
    assert!(matches!(&err, TrustError::Timestamp(m) if m.contains("refused")), "{err:?}");
}

fn unsigned_properties(doc: &str) -> &str {
    let start = doc.find("<xades:UnsignedProperties>").unwrap();
    let end = doc.find("</xades:UnsignedProperties>").unwrap() + "</xades:UnsignedProperties>".len();
    &doc[start..end]
}

fn is_timestamp_error(r: Result<impl std::fmt::Debug, TrustError>) -> bool {
    matches!(r, Err(TrustError::Timestamp(_)))
}

#[test]
fn refusals() {
    let tsa = Tsa::new("p256");
    let s = signer(Algorithm::Es256);
    let doc = sign_enveloped(LIST, &s, AT).unwrap();
    let (resp, token_der) = tsa.stamp(&doc, 42);
    let t_doc = add_signature_timestamp(&doc, &token_der).unwrap();
    assert!(verify_enveloped(&t_doc).unwrap().signature_timestamp.is_some());

    // A token for another imprint (another document's signature) is refused by add and verify.
    let other = sign_enveloped(&LIST.replace("Good CA", "Other CA"), &s, AT).unwrap();
    let (_, other_token) = tsa.stamp(&other, 43);
    assert!(is_timestamp_error(add_signature_timestamp(&doc, &other_token)));
    let t_other = add_signature_timestamp(&other, &other_token).unwrap();

    // Token moved into another signed document: the same SignedInfo signed again (ECDSA is
    // randomised: a different, valid SignatureValue) and a different document.
    let resigned = sign_enveloped(LIST, &s, AT).unwrap();
    assert_ne!(signature_value_imprint(&resigned).unwrap(), signature_value_imprint(&doc).unwrap());
    for target in [&resigned, &other] {
        let moved = target.replace(
            "</xades:QualifyingProperties>",
            &format!("{}</xades:QualifyingProperties>", unsigned_properties(&t_doc)),
        );
        assert!(is_timestamp_error(verify_enveloped(&moved)), "{target}");
    }
    let swapped = t_doc.replace(unsigned_properties(&t_doc), unsigned_properties(&t_other));
    assert!(is_timestamp_error(verify_enveloped(&swapped)));

    // SignatureValue altered after time-stamping.
    let start = t_doc.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let flipped = if &t_doc[start + 4..start + 5] == "A" { "B" } else { "A" };
    let altered = format!("{}{}{}", &t_doc[..start + 4], flipped, &t_doc[start + 5..]);
    assert_eq!(verify_enveloped(&altered), Err(TrustError::BadSignature));

    // The EncapsulatedTimeStamp text: garbage base64, base64 of garbage, oversize.
    let b64 = STANDARD.encode(&token_der);
    for bad in ["!!not base64!!".to_owned(), STANDARD.encode(b"garbage"), "A".repeat(4 * MAX_TOKEN_BYTES)] {
        let t = t_doc.replace(&b64, &bad);
        assert!(is_timestamp_error(verify_enveloped(&t)), "{}", &bad[..bad.len().min(20)]);
    }
    // Misplaced or doubled time-stamps are refused, not ignored.
    let up = unsigned_properties(&t_doc);
    let doubled = t_doc.replace(
        "</xades:UnsignedSignatureProperties>",
        &format!(
            "{}</xades:UnsignedSignatureProperties>",
            &up[up.find("<xades:SignatureTimeStamp>").unwrap()
                ..up.find("</xades:UnsignedSignatureProperties>").unwrap()]
        ),
    );
    assert!(matches!(verify_enveloped(&doubled), Err(TrustError::SignatureForm(_))));
    let misplaced = t_doc
        .replace(
            "<xades:UnsignedProperties><xades:UnsignedSignatureProperties>",
            "<xades:UnsignedProperties><xades:UnsignedDataObjectProperties>",
        )
        .replace(
            "</xades:UnsignedSignatureProperties></xades:UnsignedProperties>",
            "</xades:UnsignedDataObjectProperties></xades:UnsignedProperties>",
        );
    assert!(matches!(verify_enveloped(&misplaced), Err(TrustError::SignatureForm(_))));

    // Oversize DER.
    let mut big = vec![0x30, 0x83, 0x01, 0x00, 0x01];
    big.resize(MAX_TOKEN_BYTES + 1, 0);
    assert!(is_timestamp_error(verify_token(&big)));
    assert!(is_timestamp_error(parse_response(&big)));

    // Truncated at every length, and trailing bytes: refused, no panic.
    for n in 0..token_der.len() {
        assert!(is_timestamp_error(verify_token(&token_der[..n])), "token cut at {n}");
    }
    for n in 0..resp.len() {
        assert!(parse_response(&resp[..n]).and_then(|t| verify_token(&t)).is_err(), "response cut at {n}");
    }
    let mut trailing = token_der.clone();
    trailing.push(0);
    assert!(is_timestamp_error(verify_token(&trailing)));

    // Any single-bit change of the token is refused.
    for i in 0..token_der.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = token_der.clone();
            t[i] ^= bit;
            assert!(verify_token(&t).is_err(), "byte {i} bit {bit:#x} accepted");
            assert!(verify_enveloped(&t_doc.replace(&b64, &STANDARD.encode(&t))).is_err(), "byte {i}");
        }
    }
}

#[test]
fn documents_without_timestamp_still_verify() {
    let doc = sign_enveloped(LIST, &signer(Algorithm::Rs256), AT).unwrap();
    assert_eq!(verify_enveloped(&doc).unwrap().signature_timestamp, None);
    assert!(verify_token(&[]).is_err());
}

/// Re-sign the TSTInfo of a real token with `openssl cms`: SignerInfo v3 (subjectKeyIdentifier
/// sid) with `cert`; no ESS attribute (it is checked when present, not required).
fn cms_resign(tsa: &Tsa, token_der: &[u8], cert: &str) -> Vec<u8> {
    std::fs::write(tsa.path().join("tok.der"), token_der).unwrap();
    ok(&["cms", "-verify", "-noverify", "-inform", "DER", "-in", "tok.der", "-binary", "-out", "tst.der"], tsa.path());
    ok(
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "tst.der",
            "-econtent_type",
            "1.2.840.113549.1.9.16.1.4",
            "-signer",
            cert,
            "-inkey",
            "tsa.key",
            "-keyid",
            "-md",
            "sha256",
            "-nosmimecap",
            "-outform",
            "DER",
            "-out",
            "ski.der",
        ],
        tsa.path(),
    );
    std::fs::read(tsa.path().join("ski.der")).unwrap()
}

#[test]
fn subject_key_identifier_sid_and_key_usage() {
    let tsa = Tsa::new("p256");
    let doc = sign_enveloped(LIST, &signer(Algorithm::Es256), AT).unwrap();
    let (_, token_der) = tsa.stamp(&doc, 7);
    let original = verify_token(&token_der).unwrap();
    let ski = cms_resign(&tsa, &token_der, "tsa.pem");
    let token = verify_token(&ski).unwrap();
    assert_eq!((token.imprint, token.gen_time, &token.serial), (original.imprint, original.gen_time, &original.serial));
    assert_eq!(token.tsa_certificate_der, tsa.certificate_der);
    let v = verify_enveloped(&add_signature_timestamp(&doc, &ski).unwrap()).unwrap();
    assert_eq!(v.signature_timestamp, Some(token));

    // The same key with a certificate that is not a TSA certificate (no timeStamping EKU).
    ok(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "tsa.key",
            "-subj",
            "/CN=Not a TSA",
            "-days",
            "2",
            "-addext",
            "extendedKeyUsage=critical,codeSigning",
            "-out",
            "other.pem",
        ],
        tsa.path(),
    );
    let err = verify_token(&cms_resign(&tsa, &token_der, "other.pem")).unwrap_err();
    assert!(matches!(&err, TrustError::Timestamp(m) if m.contains("extendedKeyUsage")), "{err:?}");
}
