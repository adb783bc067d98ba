//! The device channel: `GET /ws/device/{tokenId}`, a WebSocket on which the server challenges the
//! phone to sign `channel_message(tokenId, nonce)` and then sends every pending and every new
//! login request of the token.
//!
//! `ws://` runs on plain TCP; `wss://` (an `https://` server) runs on rustls with the aws-lc-rs
//! provider and the system's root certificates, so neither path pulls `ring`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt as _, StreamExt as _};
use idseal_x1280::DeviceKey;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use crate::client::{Device, install_crypto_provider};
use crate::error::{DeviceError, Result};
use crate::request::LoginRequest;

/// How long connecting, the challenge and the `ready` answer may take together.
const HANDSHAKE: Duration = Duration::from_secs(15);
/// The largest message accepted from the server.
const MAX_MESSAGE: usize = 64 * 1024;

/// A byte stream the WebSocket runs on: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An authenticated device channel.
pub struct Channel {
    ws: WebSocketStream<Box<dyn Io>>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").finish_non_exhaustive()
    }
}

impl Device {
    /// Opens the device channel and answers its challenge with this device's key.
    pub async fn connect(&self) -> Result<Channel> {
        self.connect_with(&self.key).await
    }

    /// Opens the device channel of this device's token, answering the challenge with `key`
    /// (tests use another device's key to see the channel refuse it).
    pub async fn connect_with(&self, key: &DeviceKey) -> Result<Channel> {
        let token_id = self.token_id()?.to_owned();
        let url = ws_url(&self.state.server, &token_id)?;
        tokio::time::timeout(HANDSHAKE, open(&url, &token_id, key))
            .await
            .map_err(|_| DeviceError::Channel("handshake timed out".into()))?
    }
}

impl Channel {
    /// The next login request; `Ok(None)` when the server closed the channel normally.
    /// Close codes become errors: 4001 [`DeviceError::BadSignature`], 4004
    /// [`DeviceError::Revoked`], 4009 [`DeviceError::Replaced`]. A malformed login request is
    /// [`DeviceError::BadLoginRequest`] and the channel stays usable. Cancel-safe.
    pub async fn next(&mut self) -> Result<Option<LoginRequest>> {
        loop {
            match self.ws.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(DeviceError::Channel(e.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    // Send the queued close reply, so the server sees a clean close.
                    let _ = self.ws.flush().await;
                    return closed(frame).map(|()| None);
                }
                Some(Ok(Message::Text(text))) => {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                        return Err(DeviceError::BadLoginRequest("not JSON".into()));
                    };
                    if v.get("type").and_then(|t| t.as_str()) == Some("login_request") {
                        return LoginRequest::from_json(&v).map(Some);
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes the channel (close code 1000).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// `ws://…/ws/device/{tokenId}` from an `http://` server URL (`wss://` from `https://`), keeping
/// any path prefix of the server URL.
pub(crate) fn ws_url(server: &str, token_id: &str) -> Result<String> {
    let server = server.trim_end_matches('/');
    let rest = if let Some(r) = server.strip_prefix("http://") {
        format!("ws://{r}")
    } else if let Some(r) = server.strip_prefix("https://") {
        format!("wss://{r}")
    } else {
        return Err(DeviceError::Channel("the server URL must start with http:// or https://".into()));
    };
    Ok(format!("{rest}/ws/device/{token_id}"))
}

/// Host and port of a `ws://` or `wss://` URL.
fn authority(url: &str) -> Result<(bool, String, u16)> {
    let (tls, rest) = match url.split_once("://") {
        Some(("ws", r)) => (false, r),
        Some(("wss", r)) => (true, r),
        _ => return Err(DeviceError::Channel("not a ws:// or wss:// URL".into())),
    };
    let auth = rest.split('/').next().unwrap_or_default();
    let auth = auth.rsplit_once('@').map_or(auth, |(_, a)| a);
    let default = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = auth.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| DeviceError::Channel("bad IPv6 host".into()))?;
        let port = after.strip_prefix(':').map(str::parse).transpose();
        (h.to_owned(), port.map_err(|_| DeviceError::Channel("bad port".into()))?.unwrap_or(default))
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| DeviceError::Channel("bad port".into()))?),
            None => (auth.to_owned(), default),
        }
    };
    if host.is_empty() {
        return Err(DeviceError::Channel("no host in the server URL".into()));
    }
    Ok((tls, host, port))
}

async fn transport(url: &str) -> Result<Box<dyn Io>> {
    let (tls, host, port) = authority(url)?;
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| DeviceError::Channel(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(Box::new(tcp));
    }
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DeviceError::Channel(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| DeviceError::Channel(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| DeviceError::Channel(format!("TLS: {e}")))?;
    Ok(Box::new(stream))
}

async fn open(url: &str, token_id: &str, key: &DeviceKey) -> Result<Channel> {
    let io = transport(url).await?;
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, io, Some(config))
        .await
        .map_err(|e| DeviceError::Channel(e.to_string()))?;
    let mut ch = Channel { ws };
    let challenge = ch.control().await?;
    let nonce = match (challenge.get("type").and_then(|v| v.as_str()), challenge.get("nonce").and_then(|v| v.as_str()))
    {
        (Some("challenge"), Some(n)) if n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()) => n.to_owned(),
        _ => return Err(DeviceError::Channel("expected a challenge".into())),
    };
    let sig = key.sign(idseal_x1280::channel_message(token_id, &nonce).as_bytes())?;
    let auth = json!({"type": "auth", "signatureBase64": STANDARD.encode(sig)});
    ch.ws.send(Message::Text(auth.to_string().into())).await.map_err(|e| DeviceError::Channel(e.to_string()))?;
    let ready = ch.control().await?;
    if ready.get("type").and_then(|v| v.as_str()) != Some("ready") {
        return Err(DeviceError::Channel("expected ready".into()));
    }
    Ok(ch)
}

impl Channel {
    /// The next JSON text message of the handshake; a close is its typed error.
    async fn control(&mut self) -> Result<serde_json::Value> {
        loop {
            match self.ws.next().await {
                None => return Err(DeviceError::Channel("closed during the handshake".into())),
                Some(Err(e)) => return Err(DeviceError::Channel(e.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    closed(frame)?;
                    return Err(DeviceError::Channel("closed during the handshake".into()));
                }
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).map_err(|_| DeviceError::Channel("not JSON".into()));
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

/// A close frame: `Ok` for a normal close (none, 1000, 1001), else the typed error.
fn closed(frame: Option<CloseFrame>) -> Result<()> {
    let Some(frame) = frame else { return Ok(()) };
    let reason = frame.reason.to_string();
    match u16::from(frame.code) {
        1000 | 1001 => Ok(()),
        4001 => Err(DeviceError::BadSignature(reason)),
        4004 => Err(DeviceError::Revoked(reason)),
        4009 => Err(DeviceError::Replaced),
        code => Err(DeviceError::ChannelClosed { code, reason }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    #[test]
    fn ws_urls() {
        assert_eq!(ws_url("http://127.0.0.1:8080/", "t").unwrap(), "ws://127.0.0.1:8080/ws/device/t");
        assert_eq!(ws_url("https://id.example/base", "t").unwrap(), "wss://id.example/base/ws/device/t");
        assert!(ws_url("ftp://x", "t").is_err());
        assert_eq!(authority("ws://127.0.0.1:8080/ws").unwrap(), (false, "127.0.0.1".into(), 8080));
        assert_eq!(authority("wss://id.example/ws").unwrap(), (true, "id.example".into(), 443));
        assert_eq!(authority("ws://[::1]:9/x").unwrap(), (false, "::1".into(), 9));
        assert_eq!(authority("ws://[::1]/x").unwrap(), (false, "::1".into(), 80));
        assert!(authority("ws://h:notaport/x").is_err());
        assert!(authority("ws:///x").is_err());
    }

    #[test]
    fn close_codes_are_typed() {
        let f =
            |code: u16, reason: &'static str| Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() });
        assert!(closed(None).is_ok());
        assert!(closed(f(1000, "resolved")).is_ok());
        assert!(
            matches!(closed(f(4001, "invalid signature")), Err(DeviceError::BadSignature(r)) if r == "invalid signature")
        );
        assert!(
            matches!(closed(f(4004, "enrollment revoked")), Err(DeviceError::Revoked(r)) if r == "enrollment revoked")
        );
        assert!(matches!(closed(f(4009, "replaced")), Err(DeviceError::Replaced)));
        assert!(matches!(closed(f(1011, "x")), Err(DeviceError::ChannelClosed { code: 1011, .. })));
    }
}
