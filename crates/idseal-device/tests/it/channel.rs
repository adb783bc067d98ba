//! The device channel against a scripted WebSocket peer that plays the server's side of
//! `GET /ws/device/{tokenId}`: it checks the challenge answer with the device's public key (the
//! X.1280 core's `channel_message`), then sends what the test scripts and closes with a code.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt as _, StreamExt as _};
use idseal_device::{Device, DeviceError, DeviceState};
use idseal_types::{FixedClock, UnixTime};
use idseal_x1280::{DeviceKey, DevicePublicKey};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const TOKEN: &str = "0b9f7c2e-1111-4222-8333-444455556666";
const NONCE: &str = "00112233445566778899aabbccddeeff";

fn login(session: &str, code: &str) -> serde_json::Value {
    json!({
        "type": "login_request", "sessionId": session, "tokenId": TOKEN, "autoPassword": code,
        "serviceId": "shop", "serviceName": "The Shop", "serviceUrl": "https://shop.example",
        "serviceVerified": "false", "scopes": "identity:name", "expiresAt": "2027-01-15T08:00:00Z",
    })
}

/// What the scripted peer does after the challenge.
#[derive(Clone)]
struct Script {
    /// Messages sent after `ready` (only when the signature verifies).
    after_ready: Vec<serde_json::Value>,
    /// The close code at the end.
    close: u16,
}

/// Starts the peer; returns the server URL and a handle yielding the path the device asked for.
async fn peer(enrolled: DevicePublicKey, script: Script) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let path = Arc::new(std::sync::Mutex::new(String::new()));
        let seen = path.clone();
        #[allow(clippy::result_large_err)] // tungstenite's callback type
        let callback = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
            *seen.lock().unwrap() = req.uri().path().to_owned();
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
        ws.send(Message::Text(json!({"type": "challenge", "nonce": NONCE}).to_string().into())).await.unwrap();
        let Some(Ok(Message::Text(answer))) = ws.next().await else { panic!("no answer") };
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["type"], "auth");
        let sig = STANDARD.decode(answer["signatureBase64"].as_str().unwrap()).unwrap();
        let msg = idseal_x1280::channel_message(TOKEN, NONCE);
        let code = if enrolled.verify(msg.as_bytes(), &sig).is_ok() {
            ws.send(Message::Text(json!({"type": "ready"}).to_string().into())).await.unwrap();
            for m in script.after_ready {
                ws.send(Message::Text(m.to_string().into())).await.unwrap();
            }
            script.close
        } else {
            4001
        };
        let frame = CloseFrame { code: CloseCode::from(code), reason: "scripted".into() };
        let _ = ws.send(Message::Close(Some(frame))).await;
        let _ = ws.next().await;
        path.lock().unwrap().clone()
    });
    (base, task)
}

fn device(base: &str, key: &DeviceKey) -> Device {
    let mut st = DeviceState::with_key(base, "VDSEUA", "sim-test", key).unwrap();
    st.token_id = Some(TOKEN.into());
    Device::new(st, Arc::new(FixedClock::new(UnixTime::from_secs(1_800_000_000)))).unwrap()
}

#[tokio::test]
async fn handshake_then_requests_then_replaced() {
    let key = DeviceKey::generate().unwrap();
    let script = Script {
        after_ready: vec![
            json!({"type": "something_new"}),
            login("sess_0123456789abcdef0123456789abcdef", "048291"),
            json!({"type": "login_request", "sessionId": "garbage"}),
            login("sess_ffffffffffffffffffffffffffffffff", "111111"),
        ],
        close: 4009,
    };
    let (base, task) = peer(key.public_key().clone(), script).await;
    let d = device(&base, &key);
    let mut ch = d.connect().await.unwrap();
    let first = ch.next().await.unwrap().unwrap();
    assert_eq!(first.session_id, "sess_0123456789abcdef0123456789abcdef");
    first.check_code("048291").unwrap();
    assert!(matches!(ch.next().await, Err(DeviceError::BadLoginRequest(_))));
    let second = ch.next().await.unwrap().unwrap();
    assert_eq!(second.auto_password.as_str(), "111111");
    assert!(matches!(ch.next().await, Err(DeviceError::Replaced)));
    assert_eq!(task.await.unwrap(), format!("/ws/device/{TOKEN}"));
}

#[tokio::test]
async fn another_keys_signature_is_refused() {
    let key = DeviceKey::generate().unwrap();
    let other = DeviceKey::generate().unwrap();
    let (base, task) = peer(key.public_key().clone(), Script { after_ready: vec![], close: 1000 }).await;
    let d = device(&base, &key);
    let err = d.connect_with(&other).await.unwrap_err();
    assert!(matches!(&err, DeviceError::BadSignature(r) if r == "scripted"), "{err:?}");
    task.await.unwrap();
}

#[tokio::test]
async fn revoked_and_normal_closes() {
    let key = DeviceKey::generate().unwrap();
    let (base, task) = peer(key.public_key().clone(), Script { after_ready: vec![], close: 4004 }).await;
    let mut ch = device(&base, &key).connect().await.unwrap();
    assert!(matches!(ch.next().await, Err(DeviceError::Revoked(_))));
    task.await.unwrap();

    let (base, task) = peer(key.public_key().clone(), Script { after_ready: vec![], close: 1000 }).await;
    let mut ch = device(&base, &key).connect().await.unwrap();
    assert!(ch.next().await.unwrap().is_none());
    task.await.unwrap();
}

#[tokio::test]
async fn an_unenrolled_device_does_not_connect() {
    let st = DeviceState::new("http://127.0.0.1:9", "VDSEUA").unwrap();
    let d = Device::new(st, Arc::new(FixedClock::new(UnixTime::EPOCH))).unwrap();
    assert!(matches!(d.connect().await, Err(DeviceError::NotEnrolled)));
}
