//! The simulator against the real server (in process, on a real port, SQLite): enroll, the
//! device channel, the user's code comparison and consent, refusals the server reports with
//! their status and code, approval, and self-revocation closing the channel.

use std::sync::Arc;
use std::time::Duration;

use idseal_device::{Decision, Device, DeviceError, DeviceState};
use idseal_server::config::Config;
use idseal_testkit::trust::TrustDemo;
use idseal_types::{Clock, FixedClock, UnixTime};
use serde_json::{Value, json};

const T0: i64 = 1_800_000_000;

pub(crate) struct Srv {
    pub(crate) base: String,
    admin: String,
    pub(crate) clock: Arc<FixedClock>,
    demo: TrustDemo,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Srv {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn start() -> Srv {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let now = UnixTime::from_secs(T0);
    let demo = TrustDemo::new(&format!("{base}/trust"), now, Duration::from_secs(30 * 86_400));
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    for doc in &demo.build_with(&demo.description, now.saturating_sub(Duration::from_secs(3600))).documents {
        std::fs::write(lists.join(doc.location.rsplit('/').next().unwrap()), &doc.xml).unwrap();
    }
    let signer = lists.join("governance-signer.der");
    std::fs::write(&signer, &demo.anchors().governance_signers[0]).unwrap();
    let mut c = Config {
        data_dir: dir.path().join("data"),
        database_url: Some(format!("sqlite:{}", dir.path().join("data").join("idseal.db").display())),
        master_key_file: Some(dir.path().join("master.key")),
        ..Config::default()
    };
    c.keys.algorithms = vec!["EdDSA".into(), "ES256".into()];
    c.oauth.access_token_alg = "EdDSA".into();
    c.oauth.pq_sig_alg = "EdDSA".into();
    c.trust.publish_dir = Some(lists);
    c.trust.governance_location = Some(format!("{base}/trust/governance.xml"));
    c.trust.governance_signers = vec![signer];
    let clock = Arc::new(FixedClock::new(now));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let (state, first) = idseal_server::state::AppState::open(c.validate().unwrap(), dyn_clock).await.unwrap();
    let admin = first.bootstrap_token.as_ref().unwrap().as_str().to_owned();
    let task = tokio::spawn(async move {
        let _ = idseal_server::serve(state, listener, std::future::pending()).await;
    });
    Srv { base, admin, clock, demo, _dir: dir, task }
}

impl Srv {
    pub(crate) fn seal(&self) -> String {
        let now = UnixTime::from_secs(T0);
        let mut id = TrustDemo::identity_template(now);
        aws_lc_rs::rand::fill(&mut id.token_id).unwrap();
        self.demo.issue_identity(&id, now.saturating_sub(Duration::from_secs(60)))
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = reqwest::Client::new().post(format!("{}{path}", self.base)).json(body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a service and starts a login for `token_id`; returns initiate's answer.
    async fn initiate(&self, token_id: &str, scopes: &[&str]) -> Value {
        let url = "https://bar.example";
        let vds = self.demo.issue_service("bar", "Bar Le Central", url, scopes, UnixTime::from_secs(T0 - 60));
        let body = json!({"serviceId": "bar", "name": "Bar Le Central", "url": url, "allowedScopes": scopes,
                          "defaultScopes": [scopes[0]], "serviceVds": vds});
        let (status, v) = self.post("/admin/services", Some(&self.admin), &body).await;
        assert!(status == 201 || status == 409, "{status} {v}");
        let (status, v) =
            self.post("/auth/initiate", None, &json!({"tokenId": token_id, "serviceVds": vds, "scopes": scopes})).await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

#[tokio::test]
async fn enroll_receive_compare_consent_approve_revoke() {
    let srv = start().await;
    let st = DeviceState::new(&srv.base, &srv.seal()).unwrap();
    let clock: Arc<dyn Clock> = srv.clock.clone();
    let mut phone = Device::new(st, clock).unwrap();
    let enrolled = phone.enroll(None).await.unwrap();
    assert_eq!(phone.token_id().unwrap(), enrolled.token_id);

    // The same key cannot enroll twice: the server's 409 comes back with its code.
    let mut again = Device::new(phone.state().clone(), srv.clock.clone()).unwrap();
    match again.enroll(None).await {
        Err(DeviceError::Server { status: 409, .. }) => {}
        other => panic!("{other:?}"),
    }

    let mut ch = phone.connect().await.unwrap();
    let started = srv.initiate(&enrolled.token_id, &["identity:name", "identity:age_over_18"]).await;
    let req = tokio::time::timeout(Duration::from_secs(10), ch.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(req.session_id, started["sessionId"]);
    assert_eq!(req.auto_password.as_str(), started["autoPassword"]);
    assert!(req.service_verified);
    assert_eq!(req.scopes, vec!["identity:name", "identity:age_over_18"]);

    // The user's comparison fails: nothing is sent (the session still accepts the right code).
    let wrong = if req.auto_password.as_str() == "000000" { "111111" } else { "000000" };
    assert!(matches!(phone.approve(&req, wrong, &req.scopes).await, Err(DeviceError::CodeMismatch)));
    // Granting beyond the request is refused locally.
    let wide = vec!["identity:name".to_owned(), "identity:photo".to_owned()];
    assert!(matches!(
        phone.approve(&req, started["autoPassword"].as_str().unwrap(), &wide).await,
        Err(DeviceError::ScopesNotRequested(_))
    ));
    // The server's own refusals, with status and code: a wrong OTP, a stale timestamp, another
    // key's signature, scopes beyond the request.
    let mut call = phone.verify_call(&req, Decision::Approve, &req.scopes).unwrap();
    call.otp = zeroize::Zeroizing::new(wrong.to_owned());
    assert!(
        matches!(phone.send_verify(&call).await, Err(DeviceError::Server { status: 401, error, .. }) if error == "invalid_otp")
    );
    let mut call = phone.verify_call(&req, Decision::Approve, &req.scopes).unwrap();
    call.timestamp -= 120;
    assert!(
        matches!(phone.send_verify(&call).await, Err(DeviceError::Server { status: 401, error, .. }) if error == "timestamp_skew")
    );
    let other = idseal_x1280::DeviceKey::generate().unwrap();
    let mut call = phone.verify_call(&req, Decision::Approve, &req.scopes).unwrap();
    call.signature = Some(other.sign(call.message().as_bytes()).unwrap());
    let r = phone.send_verify(&call).await;
    assert!(matches!(&r, Err(DeviceError::Server { status: 401 | 429, .. })), "{r:?}");

    // A second login, approved honestly with a narrowed grant.
    let started = srv.initiate(&enrolled.token_id, &["identity:name", "identity:age_over_18"]).await;
    let req = loop {
        let r = tokio::time::timeout(Duration::from_secs(10), ch.next()).await.unwrap().unwrap().unwrap();
        if r.session_id == started["sessionId"] {
            break r;
        }
    };
    let mut call =
        phone.verify_call(&req, Decision::Approve, &["identity:name".to_owned(), "identity:photo".to_owned()]).unwrap();
    call.vds_data = Some(phone.state().vds.clone());
    assert!(matches!(phone.send_verify(&call).await, Err(DeviceError::Server { status: 400, .. })));
    let a = phone
        .approve(&req, started["autoPassword"].as_str().unwrap(), &["identity:age_over_18".to_owned()])
        .await
        .unwrap();
    assert_eq!(a.status, "approved");
    assert_eq!(a.random, started["random"]);
    assert!(a.jwt.is_some());

    // Self-revocation closes the channel with 4004.
    phone.revoke().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), ch.next()).await.unwrap();
    assert!(matches!(end, Err(DeviceError::Revoked(_))), "{end:?}");
    assert!(matches!(phone.connect().await, Err(DeviceError::Revoked(_))));
}
