//! The OAuth 2.1 / OIDC provider against relying-party code that is not ours, on the real
//! binary: the client is registered with `idseal clients add`, the account through the
//! registration form with the verification link read from a local SMTP sink, then npm
//! `openid-client` (interop/oidc/flow.mjs) runs the whole flow (discovery, authorize, login,
//! consent, code, token, ID token and `iss` checks, userinfo, refresh and reuse detection,
//! revocation, introspection, logout), and Python (jwcrypto, dilithium-py, cryptography)
//! verifies the ID token's signature and its `pq_sig` (interop/pqsig).
//!
//! Node and the Python packages are installed by scripts/test; when they are missing the test
//! fails, it never skips.

use std::path::{Path, PathBuf};
use std::time::Duration;

use idseal_testkit::SmtpSink;
use serde_json::Value;

use crate::harness::{Idseal, PgDb, client, free_addr, random_master_key, wait_healthy};

const EMAIL: &str = "rp-user@example.org";
const PASSWORD: &str = "interop password 42";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const LOGOUT: &str = "http://127.0.0.1:9/bye";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_full_flow_sqlite_ml_dsa() {
    run(None, "ML-DSA-65").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_full_flow_postgres_ed25519() {
    let Some(db) = PgDb::create("openid_client_full_flow_postgres_ed25519").await else { return };
    run(Some(&db.url), "EdDSA").await;
}

async fn run(database_url: Option<&str>, pq_alg: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bind = free_addr();
    let issuer = format!("http://{bind}");
    let sink = SmtpSink::start().unwrap();
    let master = random_master_key();
    let with_env = |mut c: Idseal| {
        c = c
            .env("IDSEAL_MASTER_KEY", &master)
            .env("IDSEAL_ISSUER", &issuer)
            .env("IDSEAL_DATA_DIR", &data.display().to_string())
            .env("IDSEAL_OAUTH__PQ_SIG_ALG", pq_alg)
            .env("IDSEAL_MAIL__SMTP_URL", &sink.url());
        if let Some(u) = database_url {
            c = c.env("IDSEAL_DATABASE_URL", u);
        }
        c
    };

    // The client, registered by the CLI.
    let add = with_env(Idseal::new(
        tmp.path(),
        [
            "clients",
            "add",
            "--name",
            "openid-client RP",
            "--redirect-uri",
            REDIRECT,
            "--post-logout-redirect-uri",
            LOGOUT,
            "--json",
        ],
    ))
    .run()
    .await;
    add.assert_code(0);
    let reg: Value = serde_json::from_str(add.stdout.lines().last().unwrap()).unwrap();
    let (client_id, secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());
    let list = with_env(Idseal::new(tmp.path(), ["clients", "list", "--json"])).run().await;
    list.assert_code(0);
    assert!(list.stdout.contains(client_id), "{list}");

    let server = with_env(Idseal::serve(tmp.path(), &data, bind)).start().await;
    let http = client();
    wait_healthy(&http, &server).await;

    register_account(&http, &issuer, &sink).await;

    // openid-client drives the flow.
    let node = tokio::process::Command::new("node")
        .arg("flow.mjs")
        .current_dir(repo().join("interop/oidc"))
        .env("ISSUER", &issuer)
        .env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", secret)
        .env("REDIRECT_URI", REDIRECT)
        .env("POST_LOGOUT_REDIRECT_URI", LOGOUT)
        .env("EMAIL", EMAIL)
        .env("PASSWORD", PASSWORD)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), node)
        .await
        .expect("flow.mjs finishes")
        .unwrap_or_else(|e| panic!("cannot run node (scripts/test installs interop/oidc with npm ci): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "openid-client flow failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver stderr:\n{}",
        server.stderr()
    );
    let result: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["ok"], true, "{result}");
    let id_token = result["id_token"].as_str().unwrap();

    // An independent check of the hybrid signature.
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let py = tokio::process::Command::new(&python)
        .arg(repo().join("interop/pqsig/verify_pq_sig.py"))
        .arg(format!("{issuer}/.well-known/jwks.json"))
        .arg(id_token)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        py.status.success(),
        "pq_sig check failed:\n{}\n{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["pq_sig"]["alg"], pq_alg);

    // `idseal clients remove`, while the server runs: the client can no longer authenticate.
    with_env(Idseal::new(tmp.path(), ["clients", "remove", client_id])).run().await.assert_code(0);
    with_env(Idseal::new(tmp.path(), ["clients", "remove", client_id])).run().await.assert_code(2);
    let res = http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    server.stop().await;
}

/// Register [`EMAIL`] through the HTML form and follow the link mailed to the SMTP sink.
async fn register_account(http: &reqwest::Client, issuer: &str, sink: &SmtpSink) {
    let page = http.get(format!("{issuer}/register")).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-idseal_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("pre-session CSRF cookie")
        .to_owned();
    let html = page.text().await.unwrap();
    let csrf = hidden_value(&html, "csrf");
    let res = http
        .post(format!("{issuer}/register"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("csrf", &csrf)
                .append_pair("email", EMAIL)
                .append_pair("password", PASSWORD)
                .append_pair("name", "RP User")
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let link = mails
        .first()
        .and_then(|m| m.find_link(&format!("{issuer}/account/verify?token=")))
        .unwrap_or_else(|| panic!("verification mail: {mails:?}"));
    let res = http.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
}

fn hidden_value(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let i = html.find(&key).unwrap_or_else(|| panic!("no {name} field in {html}")) + key.len();
    html[i..html[i..].find('"').map(|j| i + j).unwrap()].to_owned()
}
