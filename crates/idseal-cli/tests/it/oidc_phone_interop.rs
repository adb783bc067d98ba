//! "Sign in with your phone" (docs/passwordless.md, OIDC) against relying-party code that is not
//! ours, on the real binary: a development chain of trust and a level-2 identity seal written by
//! `idseal demo --chain-only`, the server configured with it, the client registered with
//! `idseal clients add`, the phone enrolled with `idseal device enroll`, then npm `openid-client`
//! (interop/oidc/phone.mjs) runs the flow, approving on the phone with `idseal device approve`:
//! the ID token carries `acr` (substantial) and the granted claim only; `acr_values` of `high`
//! ends in `access_denied`.
//!
//! Node and openid-client are installed by scripts/test (`npm ci` in interop/oidc); when they are
//! missing the test fails, it never skips.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Idseal, PgDb, client, free_addr, random_master_key, wait_healthy};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_phone_login_sqlite() {
    run(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_phone_login_postgres() {
    let Some(db) = PgDb::create("openid_client_phone_login_postgres").await else { return };
    run(Some(&db.url)).await;
}

async fn run(database_url: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bind = free_addr();
    let issuer = format!("http://{bind}");

    // The chain of trust, served by the server itself under /trust, and a level-2 seal.
    let (chain, config) = crate::harness::passwordless_chain(tmp.path(), &issuer, "").await;
    let cwd_chain = tmp.path().join("chain");
    assert_eq!(chain["governanceLocation"], format!("{issuer}/trust/governance.xml"));

    let master = random_master_key();
    let with_env = |mut c: Idseal| {
        c = c
            .env("IDSEAL_CONFIG", &config.display().to_string())
            .env("IDSEAL_MASTER_KEY", &master)
            .env("IDSEAL_ISSUER", &issuer)
            .env("IDSEAL_DATA_DIR", &data.display().to_string());
        if let Some(u) = database_url {
            c = c.env("IDSEAL_DATABASE_URL", u);
        }
        c
    };

    let scope = "openid identity:name identity:age_over_18 identity:date_of_birth";
    let add = with_env(Idseal::new(
        tmp.path(),
        ["clients", "add", "--name", "openid-client phone RP", "--redirect-uri", REDIRECT, "--scope", scope, "--json"],
    ))
    .run()
    .await;
    add.assert_code(0);
    let reg: Value = serde_json::from_str(add.stdout.lines().last().unwrap()).unwrap();
    let (client_id, secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());

    let server = with_env(Idseal::serve(tmp.path(), &data, bind)).start().await;
    let http = client();
    wait_healthy(&http, &server).await;

    // The phone enrolls its seal.
    let state = tmp.path().join("phone.json");
    let enroll = Idseal::new(
        tmp.path(),
        [
            "device".as_ref(),
            "enroll".as_ref(),
            "--server".as_ref(),
            issuer.as_ref(),
            "--vds".as_ref(),
            cwd_chain.join("identity.vds").as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--json".as_ref(),
        ],
    )
    .run()
    .await;
    enroll.assert_code(0);
    let enrolled: Value = serde_json::from_str(enroll.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{enroll}"));
    assert_eq!(enrolled["tokenId"], chain["tokenId"]);
    assert_eq!(enrolled["trustLevel"], 2);

    // openid-client drives the flow; the script runs the phone.
    let node = tokio::process::Command::new("node")
        .arg("phone.mjs")
        .current_dir(repo().join("interop/oidc"))
        .env("ISSUER", &issuer)
        .env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", secret)
        .env("REDIRECT_URI", REDIRECT)
        .env("TOKEN_ID", enrolled["tokenId"].as_str().unwrap())
        .env("DEVICE_STATE", &state)
        .env("IDSEAL_BIN", crate::harness::BIN)
        .env("EXPECTED_ACR", SUBSTANTIAL)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(150), node)
        .await
        .expect("phone.mjs finishes")
        .unwrap_or_else(|e| panic!("cannot run node (scripts/test installs interop/oidc with npm ci): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "openid-client phone flow failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver stderr:\n{}",
        server.stderr()
    );
    let result: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["ok"], true, "{result}");
    let names: Vec<&str> = result["steps"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    for required in ["phone_approves", "id_token_claims", "userinfo", "access_denied"] {
        assert!(names.contains(&required), "{required} did not run: {result}");
    }
    let claims = result["steps"].as_array().unwrap().iter().find(|s| s["name"] == "id_token_claims").unwrap();
    assert_eq!(claims["detail"]["acr"], SUBSTANTIAL);
    server.stop().await;
}
