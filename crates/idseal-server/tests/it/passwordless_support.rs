//! Helpers of the passwordless-login suites: a server that publishes a demo chain of trust and
//! fetches it from itself over HTTP, phones (device keys with their seals), services, and the
//! signed answers a phone sends.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_testkit::trust::TrustDemo;
use idseal_types::UnixTime;
use idseal_x1280::DeviceKey;
use serde_json::{Value, json};

use crate::support::{Server, T0, TestDb, post};

/// A server with a chain of trust, listening on a real port (the trust cache fetches the
/// lists from it, and WebSockets connect to it).
pub struct Pl {
    pub s: Server,
    pub demo: TrustDemo,
    /// `http://127.0.0.1:port`.
    pub base: String,
    pub _lists: tempfile::TempDir,
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for Pl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Publish `demo`'s lists into `dir`.
pub fn publish(dir: &std::path::Path, demo: &TrustDemo, at: UnixTime) {
    for doc in &demo.build_with(&demo.description, at).documents {
        let name = doc.location.rsplit('/').next().unwrap();
        std::fs::write(dir.join(name), &doc.xml).unwrap();
    }
}

/// A listener and the chain of trust published under it.
pub async fn chain() -> (tokio::net::TcpListener, String, TrustDemo, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let now = UnixTime::from_secs(T0);
    let demo = TrustDemo::new(&format!("{base}/trust"), now, Duration::from_secs(30 * 86_400));
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), &demo, now.saturating_sub(Duration::from_secs(3600)));
    let anchors = demo.anchors();
    std::fs::write(dir.path().join("governance-signer.der"), &anchors.governance_signers[0]).unwrap();
    (listener, base, demo, dir)
}

/// The configuration of a passwordless server on the lists in `dir`.
pub fn configure(c: &mut idseal_server::config::Config, base: &str, dir: &std::path::Path) {
    c.trust.publish_dir = Some(dir.to_path_buf());
    c.trust.governance_location = Some(format!("{base}/trust/governance.xml"));
    c.trust.governance_signers = vec![dir.join("governance-signer.der")];
    c.oauth.argon2 = crate::oauth_support::fast_argon2();
}

/// Serve `s` on `listener`.
pub fn serve(s: &Server, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let app = s.app.clone().into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// A passwordless server on `db`.
pub async fn server(db: &TestDb, tweak: impl FnOnce(&mut idseal_server::config::Config)) -> Pl {
    let (listener, base, demo, dir) = chain().await;
    let path = dir.path().to_path_buf();
    let s = db
        .server(|c| {
            configure(c, &base, &path);
            tweak(c);
        })
        .await;
    let task = serve(&s, listener);
    Pl { s, demo, base, _lists: dir, task }
}

/// A phone: its key and its seal, and the token id once enrolled.
pub struct Phone {
    pub key: DeviceKey,
    pub vds: String,
    pub token_id: String,
}

impl Pl {
    /// An identity seal for a new person (distinct token id), trust level `level`.
    pub fn seal(&self, level: u64, dob: &str) -> (String, String) {
        let now = UnixTime::from_secs(T0);
        let mut id = TrustDemo::identity_template(now);
        aws_lc_rs::rand::fill(&mut id.token_id).unwrap();
        id.trust_level = idseal_vds::TrustLevel::from_u64(level).unwrap();
        id.date_of_birth = dob.into();
        let text = self.demo.issue_identity(&id, now.saturating_sub(Duration::from_secs(60)));
        (text, id.token_id_string())
    }

    /// Enroll a new phone with a new seal.
    pub async fn phone(&self, level: u64) -> Phone {
        let (vds, token_id) = self.seal(level, "1990-02-28");
        let key = DeviceKey::generate().unwrap();
        let r = post("/enroll").json(&enroll_body(&vds, &key.public_key().to_pem(), "dev-1")).send(&self.s.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["tokenId"], token_id);
        Phone { key, vds, token_id }
    }

    /// Register a service with `scopes` (and its seal); returns `(service VDS, hash key)`.
    pub async fn service(&self, id: &str, scopes: &[&str]) -> (String, String) {
        let url = "https://bar.example";
        let vds = self.demo.issue_service(id, "Bar Le Central", url, scopes, UnixTime::from_secs(T0 - 60));
        let body = json!({"serviceId": id, "name": "Bar Le Central", "url": url, "allowedScopes": scopes,
                          "defaultScopes": [scopes[0]], "serviceVds": vds});
        let r = post("/admin/services").bearer(self.s.token()).json(&body.to_string()).send(&self.s.app).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        (vds, r.json()["hashKey"].as_str().unwrap().to_owned())
    }

    /// `POST /auth/initiate` with a Service VDS.
    pub async fn initiate(&self, phone: &Phone, service_vds: &str, scopes: &[&str]) -> Value {
        let body = json!({"tokenId": phone.token_id, "serviceVds": service_vds, "scopes": scopes});
        let r = post("/auth/initiate").json(&body.to_string()).send(&self.s.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    /// `POST /auth/verify`.
    pub async fn verify(&self, body: &Value) -> crate::support::Resp {
        post("/auth/verify").json(&body.to_string()).send(&self.s.app).await
    }

    /// `ws://…` of this server.
    pub fn ws(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }
}

pub fn enroll_body(vds: &str, pem: &str, device: &str) -> String {
    json!({"vdsData": vds, "publicKeyPem": pem, "deviceId": device}).to_string()
}

/// The phone's approval of `started`, signed by `key`, at `timestamp`.
pub fn approve(phone: &Phone, key: &DeviceKey, session: &str, otp: &str, timestamp: i64, granted: &[&str]) -> Value {
    let granted: Vec<String> = granted.iter().map(|s| (*s).to_owned()).collect();
    let msg = idseal_x1280::approve_message(session, otp, timestamp, &granted);
    let sig = STANDARD.encode(key.sign(msg.as_bytes()).unwrap());
    json!({"sessionId": session, "tokenId": phone.token_id, "otp": otp, "timestamp": timestamp,
           "grantedScopes": granted, "decision": "approve", "signatureBase64": sig, "vdsData": phone.vds})
}

/// The phone's refusal.
pub fn reject(phone: &Phone, session: &str, otp: &str, timestamp: i64) -> Value {
    let msg = idseal_x1280::reject_message(session, otp, timestamp);
    let sig = STANDARD.encode(phone.key.sign(msg.as_bytes()).unwrap());
    json!({"sessionId": session, "tokenId": phone.token_id, "otp": otp, "timestamp": timestamp,
           "decision": "reject", "signatureBase64": sig})
}

/// The decoded claims of a compact JWS (no signature check: callers check it separately).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
