//! `idseal demo`: the whole passwordless login of docs/passwordless.md in one command, on the
//! real binary, and its refusal of a directory that is already in use.

use serde_json::Value;

use crate::harness::Idseal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_json_shows_an_approved_login_with_the_granted_claims_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out =
        Idseal::new(tmp.path(), ["demo".as_ref(), "--json".as_ref(), "--dir".as_ref(), dir.as_os_str()]).run().await;
    out.assert_code(0);
    let s: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: one JSON summary\n{out}"));
    assert_eq!(s["approved"], true, "{s}");
    assert_eq!(s["hashOk"], true);
    assert_eq!(s["jwtVerified"], true);
    assert_eq!(s["nonceOk"], true);
    assert_eq!(s["service"]["name"], "Demo Shop");
    assert_eq!(s["service"]["verified"], true);
    assert_eq!(s["grantedScopes"], serde_json::json!(["identity:name", "identity:age_over_18"]));
    assert!(s["requestedScopes"].as_array().unwrap().iter().any(|x| x == "identity:date_of_birth"));
    let c = &s["claims"];
    assert_eq!(c["aud"], "demo-shop");
    assert_eq!(c["family_name"], "SPECIMEN");
    assert_eq!(c["age_over_18"], true);
    assert_eq!(c["acr"], "http://eidas.europa.eu/LoA/substantial");
    assert_eq!(c["amr"], serde_json::json!(["hwk", "otp", "mca"]));
    for withheld in ["birthdate", "document_number", "nationality", "picture", "email"] {
        assert!(c.get(withheld).is_none(), "{withheld} was not granted: {c}");
    }
    assert_ne!(c["sub"], s["tokenId"], "pairwise subject");
    // The steps are told on stderr when stdout carries the summary.
    for step in
        ["chain of trust", "enrolled", "Demo Shop (VERIFIED)", "not the date of birth", "not released: birthdate"]
    {
        assert!(out.stderr.contains(step), "stderr lacks {step:?}\n{out}");
    }
    assert!(dir.join("data").is_dir() && dir.join("trust/governance.xml").is_file());

    // The same directory again: refused, nothing run.
    let again = Idseal::new(tmp.path(), ["demo".as_ref(), "--dir".as_ref(), dir.as_os_str()]).run().await;
    again.assert_code(1).assert_stderr_has("not empty");
    assert!(again.stdout.is_empty(), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_text_output_and_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Idseal::new(tmp.path(), ["demo"]).run().await;
    out.assert_code(0);
    for step in ["1. chain of trust", "3. identity seal for Demo SPECIMEN (FICTIONAL", "6. the phone shows", "done:"] {
        assert!(out.stdout.contains(step), "stdout lacks {step:?}\n{out}");
    }
    // The temporary directory is gone afterwards, and nothing landed in the working directory.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    // The hidden chain mode needs a directory; unknown flags are usage errors.
    Idseal::new(tmp.path(), ["demo", "--chain-only", "http://127.0.0.1:9/trust"]).run().await.assert_code(2);
    Idseal::new(tmp.path(), ["demo", "--bogus"]).run().await.assert_code(2);
}
