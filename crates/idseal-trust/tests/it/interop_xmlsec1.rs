//! Interop with the independent `xmlsec1` tool (libxmlsec1, OpenSSL backend): our signatures
//! verify there, and its signatures (enveloped and XPath Filter 2.0 forms) verify here. These
//! tests FAIL when `xmlsec1` or `openssl` is missing: install them (Debian: `apt-get install
//! xmlsec1 openssl`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use idseal_keys::Algorithm;
use idseal_trust::TrustError;
use idseal_trust::xmldsig::{sign_enveloped, verify_enveloped};
use idseal_types::UnixTime;

use crate::xmldsig::{LIST, signer};

const XADES_NS: &str = "http://uri.etsi.org/01903/v1.3.2#";

fn tool(name: &str, args: &[&str], dir: &Path) -> Output {
    match Command::new(name).args(args).current_dir(dir).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run `{name}` ({e}): the XML-DSig interop tests need xmlsec1 and openssl; \
             install them (Debian/Ubuntu: apt-get install xmlsec1 openssl)"
        ),
    }
}

fn ok(name: &str, args: &[&str], dir: &Path) {
    let o = tool(name, args, dir);
    assert!(o.status.success(), "{name} {args:?} failed:\n{}", String::from_utf8_lossy(&o.stderr));
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xmldsig").join(name)
}

fn xmlsec1_verify(dir: &Path, file: &str) -> Output {
    tool(
        "xmlsec1",
        &[
            "--verify",
            "--enabled-reference-uris",
            "empty,same-doc",
            "--id-attr:Id",
            &format!("{XADES_NS}:SignedProperties"),
            "--trusted-der",
            "cert.der",
            file,
        ],
        dir,
    )
}

#[test]
fn our_signatures_verify_with_xmlsec1() {
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let dir = tempfile::tempdir().unwrap();
        let s = signer(alg);
        std::fs::write(dir.path().join("cert.der"), &s.certificate_der).unwrap();
        let signed = sign_enveloped(LIST, &s, UnixTime::from_secs(1_790_000_000)).unwrap();
        std::fs::write(dir.path().join("signed.xml"), &signed).unwrap();
        let o = xmlsec1_verify(dir.path(), "signed.xml");
        assert!(o.status.success(), "xmlsec1 refused our {alg} signature:\n{}", String::from_utf8_lossy(&o.stderr));

        // Tampered content and tampered signed properties: xmlsec1 refuses too.
        let tampered = signed.replace("Good CA", "Evil CA");
        std::fs::write(dir.path().join("tampered.xml"), &tampered).unwrap();
        assert!(!xmlsec1_verify(dir.path(), "tampered.xml").status.success(), "xmlsec1 accepted tampered content");
        let tampered = signed.replace("<xades:SigningTime>2026", "<xades:SigningTime>2027");
        assert_ne!(tampered, signed);
        std::fs::write(dir.path().join("tampered2.xml"), &tampered).unwrap();
        assert!(!xmlsec1_verify(dir.path(), "tampered2.xml").status.success(), "xmlsec1 accepted tampered props");
    }
}

/// A key and self-signed certificate made by openssl in `dir`: key.pem, cert.pem.
fn openssl_key(dir: &Path, alg: Algorithm) {
    match alg {
        Algorithm::Es256 => {
            ok("openssl", &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem"], dir);
            ok(
                "openssl",
                &[
                    "req",
                    "-new",
                    "-x509",
                    "-key",
                    "key.pem",
                    "-subj",
                    "/CN=xmlsec1 interop",
                    "-days",
                    "30",
                    "-out",
                    "cert.pem",
                ],
                dir,
            );
        }
        _ => ok(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-subj",
                "/CN=xmlsec1 interop",
                "-days",
                "30",
                "-out",
                "cert.pem",
            ],
            dir,
        ),
    }
}

fn xmlsec1_signed(template: &str, alg: Algorithm) -> (String, Vec<u8>) {
    xmlsec1_signed_with(template, alg, EXC_C14N)
}

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Sign `template` with xmlsec1, every exc-c14n URI in it replaced by `c14n`.
fn xmlsec1_signed_with(template: &str, alg: Algorithm, c14n: &str) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    openssl_key(dir.path(), alg);
    let method = match alg {
        Algorithm::Es256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        _ => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    };
    let t =
        std::fs::read_to_string(data(template)).unwrap().replace("SIGNATURE_METHOD", method).replace(EXC_C14N, c14n);
    std::fs::write(dir.path().join("template.xml"), t).unwrap();
    ok(
        "xmlsec1",
        &["--sign", "--privkey-pem", "key.pem,cert.pem", "--output", "signed.xml", "template.xml"],
        dir.path(),
    );
    ok("openssl", &["x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der"], dir.path());
    // Sanity: xmlsec1 itself accepts what it made.
    ok("xmlsec1", &["--verify", "--trusted-pem", "cert.pem", "signed.xml"], dir.path());
    (
        std::fs::read_to_string(dir.path().join("signed.xml")).unwrap(),
        std::fs::read(dir.path().join("cert.der")).unwrap(),
    )
}

#[test]
fn xmlsec1_enveloped_signatures_verify_here() {
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let (signed, cert) = xmlsec1_signed("template-enveloped.xml", alg);
        let v = verify_enveloped(&signed).unwrap_or_else(|e| panic!("{alg}: {e:?}\n{signed}"));
        assert_eq!(v.certificate_der, cert);
        assert_eq!(v.signing_time, None);
        assert!(v.signed_document.contains("idseal interop &amp; test"));
        assert!(!v.signed_document.contains("Signature"));
        let tampered = signed.replace("<TSLSequenceNumber>42<", "<TSLSequenceNumber>43<");
        assert!(matches!(verify_enveloped(&tampered), Err(TrustError::DigestMismatch(_))));
    }
}

#[test]
fn xmlsec1_filter2_signatures_verify_here() {
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let (signed, cert) = xmlsec1_signed("template-filter2.xml", alg);
        let v = verify_enveloped(&signed).unwrap_or_else(|e| panic!("{alg}: {e:?}\n{signed}"));
        assert_eq!(v.certificate_der, cert);
        assert!(v.signed_document.contains("liste &lt;filter2&gt;"));
        let tampered = signed.replace("liste &lt;filter2&gt;", "liste &lt;filter3&gt;");
        assert!(matches!(verify_enveloped(&tampered), Err(TrustError::DigestMismatch(_))));
    }
}

#[test]
fn xmlsec1_inclusive_c14n_signatures_verify_here() {
    for c14n in ["http://www.w3.org/TR/2001/REC-xml-c14n-20010315", "http://www.w3.org/2006/12/xml-c14n11"] {
        for template in ["template-enveloped.xml", "template-filter2.xml"] {
            let (signed, _) = xmlsec1_signed_with(template, Algorithm::Es256, c14n);
            assert!(signed.contains(c14n));
            let v = verify_enveloped(&signed).unwrap_or_else(|e| panic!("{c14n} {template}: {e:?}\n{signed}"));
            assert!(!v.signed_document.contains("Signature"));
        }
    }
}

#[test]
fn our_signature_with_ds_declared_on_the_root_verifies_with_xmlsec1() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer(Algorithm::Es256);
    std::fs::write(dir.path().join("cert.der"), &s.certificate_der).unwrap();
    let list = LIST.replace(
        "TSLTag=",
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" TSLTag=",
    );
    let signed = sign_enveloped(&list, &s, UnixTime::from_secs(1_790_000_000)).unwrap();
    assert!(!signed.contains("<ds:Signature xmlns:ds"));
    verify_enveloped(&signed).unwrap();
    std::fs::write(dir.path().join("signed.xml"), &signed).unwrap();
    let o = xmlsec1_verify(dir.path(), "signed.xml");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
