//! The two WebSockets of a login (product-spec §3 "GET /ws/session"; docs/passwordless.md):
//!
//! - `GET /ws/session/{sessionId}?token={wsToken}`: the browser's view of one session:
//!   `otp_ready`, then one of `approved`, `rejected`, `expired`, then close 1000. A wrong token
//!   closes with 4001, an unknown session with 4004, and a newer socket for the same session
//!   (on any instance) closes the older one with 4009.
//! - `GET /ws/device/{tokenId}`: the phone's channel. The server sends a challenge, the phone
//!   signs it with its enrolled key, then receives every pending and new login request of its
//!   token. Close 4001: bad signature; 4004: no usable enrollment (also when it is revoked
//!   while connected); 4009: replaced by a newer channel.
//!
//! Events travel over the store's bus (PostgreSQL LISTEN/NOTIFY between instances), so the
//! socket may be on any instance: no sticky sessions.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use base64::Engine as _;
use idseal_store::BusMessage;
use idseal_x1280::DevicePublicKey;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use axum::response::IntoResponse as _;

use crate::error::ApiError;
use crate::oidc::random;
use crate::state::AppState;
use crate::web::Meta;
use crate::x1280::{DEVICE_TOPIC, SESSION_TOPIC, open_event, publish_event, push_data, rfc3339};

/// Close: resolved or expired.
const NORMAL: u16 = 1000;
/// Close: wrong wsToken or device signature.
const INVALID_TOKEN: u16 = 4001;
/// Close: no such session or enrollment.
const NOT_FOUND: u16 = 4004;
/// Close: replaced by a newer socket.
const REPLACED: u16 = 4009;
/// How long the phone has to answer the channel challenge.
const CHALLENGE_SECS: u64 = 10;

/// `?token=`.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The wsToken from initiate.
    #[serde(default)]
    pub token: String,
}

/// `GET /ws/session/{sessionId}?token={wsToken}`.
#[utoipa::path(get, path = "/ws/session/{session_id}", tag = "passwordless",
    params(("session_id" = String, Path, description = "From /auth/initiate"), ("token" = String, Query, description = "wsToken")),
    responses((status = 101, description = "WebSocket: otp_ready, approved|rejected|expired; close 1000/4001/4004/4009"),
              (status = 429, description = "Too many open sockets (in all or from this address)", body = crate::error::ErrorBody)))]
pub async fn session_socket(
    State(st): State<AppState>,
    meta: Meta,
    Path(session_id): Path<String>,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(slot) = st.sockets.take(meta.ip) else { return too_many() };
    ws.max_message_size(4096).on_upgrade(move |socket| async move {
        st.metrics.sockets.inc();
        run_session(&st, socket, &session_id, &q.token).await;
        st.metrics.sockets.dec();
        drop(slot);
    })
}

/// 429 before the upgrade: this instance holds as many sockets as it allows (in all, or from
/// this address).
fn too_many() -> Response {
    ApiError::TooManyRequests { retry_after: 10 }.into_response()
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn send(socket: &mut WebSocket, v: &serde_json::Value) -> bool {
    socket.send(Message::Text(Utf8Bytes::from(v.to_string()))).await.is_ok()
}

/// Who a socket is, for replacement: when it opened (microseconds of the wall clock, for
/// ordering only) and a random nonce (tie-break and self-recognition).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SocketId(u128, String);

impl SocketId {
    fn new() -> Self {
        #[allow(clippy::disallowed_methods)] // ordering of replacement notices only, never a decision on time
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
        let nonce =
            random::<16>().map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)).unwrap_or_default();
        Self(at, nonce)
    }

    fn notice(&self) -> serde_json::Value {
        json!({"type": "_socket", "at": self.0.to_string(), "nonce": self.1})
    }

    /// A notice from a socket opened after this one (a late notice from an older socket,
    /// which can arrive after a newer one opened, replaces nothing).
    fn replaced_by(&self, ev: &serde_json::Value) -> bool {
        let at = ev.get("at").and_then(|v| v.as_str()).and_then(|v| v.parse::<u128>().ok()).unwrap_or(0);
        let nonce = ev.get("nonce").and_then(|v| v.as_str()).unwrap_or("");
        SocketId(at, nonce.to_owned()) > *self
    }
}

async fn run_session(st: &AppState, mut socket: WebSocket, session_id: &str, token: &str) {
    if !idseal_x1280::is_session_id(session_id) || !idseal_x1280::ws_token_ok(&st.x1280.ws, session_id, token) {
        return close(socket, INVALID_TOKEN, "invalid token").await;
    }
    // Subscribe before reading the row: an event published after the read is not missed.
    let mut bus = match st.store.bus().subscribe().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "session socket: bus");
            return close(socket, 1011, "server error").await;
        }
    };
    let row = match st.store.auth_session(session_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return close(socket, NOT_FOUND, "session not found").await,
        Err(e) => {
            tracing::warn!(error = %e, "session socket: store");
            return close(socket, 1011, "server error").await;
        }
    };
    let now = st.clock.now();
    if row.status != "pending" || row.expires_at <= now {
        let status = if row.status == "pending" { "expired" } else { row.status.as_str() };
        let _ = send(&mut socket, &json!({"type": status, "resolved": true})).await;
        return close(socket, NORMAL, "resolved").await;
    }
    let me = SocketId::new();
    if let Err(e) = publish_event(st, session_id, &me.notice()).await {
        tracing::warn!(error = ?e, "session socket: replace notice");
    }
    let Ok(otp) = crate::x1280::otp(st, &row) else { return close(socket, 1011, "server error").await };
    let visible = usize::from(st.settings.config.passwordless.otp_visible_digits);
    let ready = json!({
        "type": "otp_ready",
        "autoPassword": if visible >= 6 { otp.as_str().to_owned() } else { otp.masked(visible) },
        "expiresAt": rfc3339(row.expires_at),
    });
    if !send(&mut socket, &ready).await {
        return;
    }
    let topic = format!("{SESSION_TOPIC}{session_id}");
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(u64::try_from(row.expires_at.as_secs() - now.as_secs()).unwrap_or(0) + 2);
    loop {
        tokio::select! {
            msg = bus.recv() => match msg {
                Ok(BusMessage { topic: t, payload }) if t == topic => {
                    let Some(ev) = open_event(st, session_id, &payload) else { continue };
                    match ev.get("type").and_then(|v| v.as_str()) {
                        Some("_socket") if me.replaced_by(&ev) => {
                            return close(socket, REPLACED, "replaced").await;
                        }
                        Some("approved" | "rejected" | "expired") => {
                            let _ = send(&mut socket, &ev).await;
                            return close(socket, NORMAL, "resolved").await;
                        }
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Events were dropped: the row tells whether it resolved.
                    if let Ok(Some(r)) = st.store.auth_session(session_id).await && r.status != "pending" {
                        let _ = send(&mut socket, &json!({"type": r.status, "resolved": true})).await;
                        return close(socket, NORMAL, "resolved").await;
                    }
                }
                Err(RecvError::Closed) => return close(socket, 1011, "server shutting down").await,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = tokio::time::sleep_until(deadline) => {
                // The sweeper announces expiry; this is the fallback if no event came: the row
                // says what happened (an approval whose event was lost is not "expired").
                let _ = crate::x1280::expire_sessions(st).await;
                let status = match st.store.auth_session(session_id).await {
                    Ok(Some(r)) if r.status != "pending" => r.status,
                    _ => "expired".to_owned(),
                };
                let _ = send(&mut socket, &json!({"type": status, "resolved": true})).await;
                return close(socket, NORMAL, "resolved").await;
            }
        }
    }
}

/// `GET /ws/device/{tokenId}`.
#[utoipa::path(get, path = "/ws/device/{token_id}", tag = "passwordless",
    params(("token_id" = String, Path, description = "The enrolled token id")),
    responses((status = 101, description = "WebSocket: challenge → auth → ready, then login_request events; close 4001/4004/4009"),
              (status = 429, description = "Too many open sockets (in all or from this address)", body = crate::error::ErrorBody)))]
pub async fn device_socket(
    State(st): State<AppState>,
    meta: Meta,
    Path(token_id): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(slot) = st.sockets.take(meta.ip) else { return too_many() };
    ws.max_message_size(4096).on_upgrade(move |socket| async move {
        st.metrics.sockets.inc();
        run_device(&st, socket, &token_id).await;
        st.metrics.sockets.dec();
        drop(slot);
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthMessage {
    #[serde(rename = "type")]
    kind: String,
    signature_base64: String,
}

/// Waits for the phone's signed answer to the challenge.
async fn device_auth(st: &AppState, socket: &mut WebSocket, token_id: &str) -> Result<(), (u16, &'static str)> {
    let enrollment = match crate::routes::x1280::auth::usable_enrollment(st, token_id).await {
        Ok(e) => e,
        Err(_) => return Err((NOT_FOUND, "no usable enrollment")),
    };
    let key = DevicePublicKey::from_pem(&enrollment.public_key_pem).map_err(|_| (1011, "server error"))?;
    let nonce = random::<16>().map(hex).map_err(|_| (1011, "server error"))?;
    if !send(socket, &json!({"type": "challenge", "nonce": nonce})).await {
        return Err((NORMAL, "gone"));
    }
    let answer = tokio::time::timeout(Duration::from_secs(CHALLENGE_SECS), socket.recv()).await;
    let Ok(Some(Ok(Message::Text(text)))) = answer else { return Err((INVALID_TOKEN, "no answer")) };
    let Ok(msg) = serde_json::from_str::<AuthMessage>(&text) else { return Err((INVALID_TOKEN, "bad answer")) };
    let sig = base64::engine::general_purpose::STANDARD.decode(msg.signature_base64.as_bytes()).unwrap_or_default();
    let message = idseal_x1280::channel_message(token_id, &nonce);
    if msg.kind != "auth" || key.verify(message.as_bytes(), &sig).is_err() {
        return Err((INVALID_TOKEN, "invalid signature"));
    }
    Ok(())
}

fn hex(b: [u8; 16]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn run_device(st: &AppState, mut socket: WebSocket, token_id: &str) {
    let Ok(token_id) = crate::routes::x1280::auth::check_token_id(token_id) else {
        return close(socket, NOT_FOUND, "no usable enrollment").await;
    };
    if let Err((code, reason)) = device_auth(st, &mut socket, &token_id).await {
        return close(socket, code, reason).await;
    }
    let topic = format!("{DEVICE_TOPIC}{token_id}");
    let Ok(mut bus) = st.store.bus().subscribe().await else { return close(socket, 1011, "server error").await };
    let me = SocketId::new();
    if let Err(e) = crate::x1280::publish_device_event(st, &token_id, &me.notice()).await {
        tracing::warn!(error = %e, "device channel: replace notice");
    }
    if !send(&mut socket, &json!({"type": "ready"})).await {
        return;
    }
    // Each login is sent once, whether the listing or the bus saw it first.
    let mut sent = std::collections::HashSet::new();
    let pending = st.store.pending_sessions_for_token(&token_id, st.clock.now()).await.unwrap_or_default();
    for row in pending {
        let Ok(data) = push_data(st, &row) else { continue };
        if sent.insert(row.session_id.clone()) && !send(&mut socket, &json!(data)).await {
            return;
        }
    }
    loop {
        tokio::select! {
            msg = bus.recv() => match msg {
                Ok(BusMessage { topic: t, payload }) if t == topic => {
                    let Some(ev) = crate::x1280::open_device_event(st, &token_id, &payload) else { continue };
                    if let Some(sid) = ev.get("sessionId").and_then(|v| v.as_str()) {
                        if let Ok(Some(row)) = st.store.auth_session(sid).await
                            && row.status == "pending" && row.token_id == token_id
                            && let Ok(data) = push_data(st, &row)
                            && sent.insert(row.session_id.clone())
                            && !send(&mut socket, &json!(data)).await
                        {
                            return;
                        }
                        continue;
                    }
                    match ev.get("type").and_then(|v| v.as_str()) {
                        Some("_socket") if me.replaced_by(&ev) => {
                            return close(socket, REPLACED, "replaced").await;
                        }
                        Some("_revoked") => return close(socket, NOT_FOUND, "enrollment revoked").await,
                        _ => {}
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return close(socket, 1011, "server shutting down").await,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
