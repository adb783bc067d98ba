//! Signing certificates, the UsageList, issuance and verification against a certificate,
//! with a local key and (in `hsm_inner`, run by `hsm_suite` in a child process with its own
//! SOFTHSM2_CONF) a SoftHSM2 key.

use std::process::Command;
use std::time::Duration;

use idseal_keys::{Pkcs11Config, Pkcs11Signer};
use idseal_types::UnixTime;
use idseal_vds::certificate::{dev_ca_with_signer, parse_usage_list, usage_list_der};
use idseal_vds::{
    CertificateAuthority, CertificateReference, LocalSigner, ManifestId, Pkcs11SealSigner, SigningCertificate,
    VdsError, dev_ca, issue, signing_certificate, verify_with_certificate,
};

use crate::{ISSUED, TEST_PKCS8_HEX, hex, identity, public_key};

const YEAR: Duration = Duration::from_secs(365 * 86_400);
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKENS: [&str; 2] = ["vds-issue", "vds-ca"];

fn now() -> UnixTime {
    UnixTime::from_secs(ISSUED)
}

pub(crate) fn leaf(ids: &[ManifestId]) -> (tempfile::TempDir, String, SigningCertificate) {
    let ca = dev_ca("idseal dev CA", "IDSL", now().saturating_sub(Duration::from_secs(10)), YEAR * 5).unwrap();
    let authority = CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem).unwrap();
    let pem =
        signing_certificate(&authority, "0001", &public_key(), ids, now().saturating_sub(Duration::from_secs(5)), YEAR)
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.certificate_pem).unwrap();
    std::fs::write(dir.path().join("leaf.pem"), &pem).unwrap();
    let cert = SigningCertificate::parse(pem.as_bytes()).unwrap();
    (dir, pem, cert)
}

pub(crate) fn local() -> LocalSigner {
    LocalSigner::from_pkcs8(&hex(TEST_PKCS8_HEX), CertificateReference::new("IDSL", "0001").unwrap()).unwrap()
}

#[test]
fn issue_and_verify_with_local_key() {
    let (_d, _pem, cert) = leaf(&[ManifestId::IDENTITY]);
    assert_eq!(cert.certificate_reference.to_string(), "IDSL0001");
    assert_eq!(cert.subject, "CN=IDSL0001");
    assert_eq!(cert.issuer, "CN=idseal dev CA, serialNumber=IDSL");
    assert_eq!(cert.public_key, public_key());
    let text = issue(&identity(), &local(), &cert, ManifestId::IDENTITY, now()).unwrap();
    let vds = verify_with_certificate(&text, &cert, now()).unwrap();
    assert_eq!(vds.payload.as_identity(), Some(&identity()));
    // the certificate (1 year) expired before "now" but was valid at the issue time: still valid
    let after_cert = now().saturating_add(YEAR + YEAR / 2);
    assert!(verify_with_certificate(&text, &cert, after_cert).is_ok());
    // the seal's own expiry (2 years) is checked
    let after_exp = now().saturating_add(YEAR * 2);
    assert_eq!(
        verify_with_certificate(&text, &cert, after_exp),
        Err(VdsError::Expired { expired_at: identity().expires_at.as_secs() })
    );
}

#[test]
fn refusals() {
    let other = ManifestId::new(0x0A_0002).unwrap();
    let (_d, _pem, cert) = leaf(&[other]);
    assert_eq!(
        issue(&identity(), &local(), &cert, ManifestId::IDENTITY, now()),
        Err(VdsError::ManifestNotAllowed { id: 0x0A_0001 })
    );
    let (_d, _pem, cert) = leaf(&[ManifestId::IDENTITY]);
    let late = now().saturating_add(YEAR * 2);
    assert!(matches!(
        issue(&identity(), &local(), &cert, ManifestId::IDENTITY, late),
        Err(VdsError::CertificateNotValid { .. })
    ));
    // a signer with another key under the same reference
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let wrong = LocalSigner::from_pkcs8(pkcs8.as_ref(), cert.certificate_reference.clone()).unwrap();
    assert_eq!(issue(&identity(), &wrong, &cert, ManifestId::IDENTITY, now()), Err(VdsError::SignerKeyMismatch));
    // a seal verified against another certificate (other key, same reference)
    let text = issue(&identity(), &local(), &cert, ManifestId::IDENTITY, now()).unwrap();
    let ca = dev_ca("other", "IDSL", now(), YEAR).unwrap();
    let authority = CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem).unwrap();
    let pem =
        signing_certificate(&authority, "0001", &wrong.public_key(), &[ManifestId::IDENTITY], now(), YEAR).unwrap();
    let other_cert = SigningCertificate::parse(pem.as_bytes()).unwrap();
    assert_eq!(verify_with_certificate(&text, &other_cert, now()), Err(VdsError::InvalidSignature));
    let pem = signing_certificate(&authority, "0002", &public_key(), &[ManifestId::IDENTITY], now(), YEAR).unwrap();
    let ref_cert = SigningCertificate::parse(pem.as_bytes()).unwrap();
    assert_eq!(verify_with_certificate(&text, &ref_cert, now()), Err(VdsError::CertificateMismatch));
}

#[test]
fn certificate_without_usage_list_is_refused() {
    let ca = dev_ca("idseal dev CA", "IDSL", now(), YEAR).unwrap();
    assert!(matches!(
        SigningCertificate::parse(ca.certificate_pem.as_bytes()),
        Err(VdsError::BadCertificateReference { .. })
    ));
    // A CA certificate whose CN looks like a reference is still a CA: it cannot sign seals.
    let ca = dev_ca("IDSL0001", "IDSL", now(), YEAR).unwrap();
    assert_eq!(
        SigningCertificate::parse(ca.certificate_pem.as_bytes()),
        Err(VdsError::BadCertificate { reason: "a CA certificate cannot sign seals" })
    );
}

#[test]
fn usage_list_round_trip() {
    let ids = [ManifestId::new(0x0A_0002).unwrap(), ManifestId::IDENTITY, ManifestId::IDENTITY];
    let der = usage_list_der(&ids).unwrap();
    assert_eq!(der, hex("300a04030a000104030a0002"));
    assert_eq!(parse_usage_list(&der).unwrap(), vec![ManifestId::IDENTITY, ManifestId::new(0x0A_0002).unwrap()]);
    for bad in ["3000", "300a04030a000204030a0001", "3005040200010a", "30050403000001ff", "3003020101"] {
        assert!(matches!(parse_usage_list(&hex(bad)), Err(VdsError::BadUsageList { .. })), "{bad}");
    }
    let (_d, _pem, cert) = leaf(&ids);
    assert_eq!(cert.manifest_ids, vec![ManifestId::IDENTITY, ManifestId::new(0x0A_0002).unwrap()]);
}

#[test]
fn openssl_reads_the_extension_and_verifies_the_chain() {
    let (dir, _pem, _cert) = leaf(&[ManifestId::IDENTITY]);
    let leaf_path = dir.path().join("leaf.pem");
    let out =
        Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&leaf_path).output().expect("openssl CLI");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains(idseal_vds::USAGE_LIST_OID), "{text}");
    let out = Command::new("openssl").args(["asn1parse", "-i", "-in"]).arg(&leaf_path).output().unwrap();
    let asn1 = String::from_utf8_lossy(&out.stdout);
    assert!(asn1.contains("[HEX DUMP]:30050403") && asn1.contains("0A0001"), "{asn1}");
    let out = Command::new("openssl")
        .args(["verify", "-attime", &ISSUED.to_string(), "-CAfile"])
        .arg(dir.path().join("ca.pem"))
        .arg(&leaf_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn hsm_suite() {
    if std::env::var_os("SOFTHSM2_CONF").is_some() {
        return; // we are the child
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
    )
    .unwrap();
    for label in TOKENS {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label, "--so-pin", "5678", "--pin", "1234"])
            .output()
            .expect("softhsm2-util");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .env("SOFTHSM2_CONF", &conf)
        .args(["issuer::hsm_inner", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("2 passed"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs only in the child of [`hsm_suite`].
mod hsm_inner {
    use super::*;

    #[test]
    fn issue_with_softhsm_key() {
        if std::env::var_os("SOFTHSM2_CONF").is_none() {
            return;
        }
        let config =
            Pkcs11Config::from_uri(&format!("pkcs11:token=vds-issue;object=seal?module-path={MODULE}&pin-value=1234"))
                .unwrap();
        let key = Pkcs11Signer::generate(&config).unwrap();
        let point = key.public_key().to_vec();
        let reference = CertificateReference::new("IDSL", "0002").unwrap();
        let signer = Pkcs11SealSigner::new(key, reference);
        let ca = dev_ca("idseal dev CA", "IDSL", now(), YEAR).unwrap();
        let authority = CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem).unwrap();
        let pem = signing_certificate(&authority, "0002", &point, &[ManifestId::IDENTITY], now(), YEAR).unwrap();
        let cert = SigningCertificate::parse(pem.as_bytes()).unwrap();
        let text = issue(&identity(), &signer, &cert, ManifestId::IDENTITY, now()).unwrap();
        verify_with_certificate(&text, &cert, now()).unwrap();
        // the same key, reopened by label
        let config2 = Pkcs11Config { key_label: Some("seal".into()), ..config };
        let again = Pkcs11Signer::open(&config2).unwrap();
        assert_eq!(again.public_key().to_vec(), point);
    }

    #[test]
    fn ca_key_in_softhsm() {
        if std::env::var_os("SOFTHSM2_CONF").is_none() {
            return;
        }
        let config =
            Pkcs11Config::from_uri(&format!("pkcs11:token=vds-ca;object=ca?module-path={MODULE}&pin-value=1234"))
                .unwrap();
        let ca_key = Pkcs11SealSigner::new(
            Pkcs11Signer::generate(&config).unwrap(),
            CertificateReference::new("IDSH", "0000").unwrap(),
        );
        let ca_point = ca_key.public_key().to_vec();
        let start = now().saturating_sub(Duration::from_secs(10));
        // a signer whose key is not the certified one is refused
        assert_eq!(
            dev_ca_with_signer("idseal HSM CA", "IDSH", &public_key(), &ca_key, start, YEAR * 5),
            Err(VdsError::SignerKeyMismatch)
        );
        let ca_pem = dev_ca_with_signer("idseal HSM CA", "IDSH", &ca_point, &ca_key, start, YEAR * 5).unwrap();
        let authority = CertificateAuthority::new(ca_pem.as_bytes(), Box::new(ca_key)).unwrap();
        assert_eq!(authority.ca_id(), "IDSH");
        // a leaf for the local test key, issued by the HSM CA key
        let pem = signing_certificate(&authority, "0001", &public_key(), &[ManifestId::IDENTITY], start, YEAR).unwrap();
        let cert = SigningCertificate::parse(pem.as_bytes()).unwrap();
        assert_eq!(cert.issuer, "CN=idseal HSM CA, serialNumber=IDSH");
        assert_eq!(cert.subject, "CN=IDSH0001");
        let signer = LocalSigner::from_pkcs8(&hex(TEST_PKCS8_HEX), cert.certificate_reference.clone()).unwrap();
        let text = issue(&identity(), &signer, &cert, ManifestId::IDENTITY, now()).unwrap();
        verify_with_certificate(&text, &cert, now()).unwrap();
        // openssl accepts the chain (and the CA's self-signature, made by the token)
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        std::fs::write(dir.path().join("leaf.pem"), &pem).unwrap();
        for (ca, leaf) in [("ca.pem", "leaf.pem"), ("ca.pem", "ca.pem")] {
            let out = Command::new("openssl")
                .args(["verify", "-x509_strict", "-check_ss_sig", "-attime", &ISSUED.to_string(), "-CAfile"])
                .arg(dir.path().join(ca))
                .arg(dir.path().join(leaf))
                .output()
                .expect("openssl CLI");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && text.contains(": OK"), "{leaf}: {text}");
        }
    }
}
