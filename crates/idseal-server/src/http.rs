//! Outgoing HTTP(S): every client of the binary (trust lists, time-stamping authorities, the
//! CLI's fetches) is built here, so that TLS uses aws-lc-rs, the one crypto backend (rustls
//! with the aws-lc-rs provider and the system's root certificates; no `ring`).

use std::sync::Once;

static PROVIDER: Once = Once::new();

/// A reqwest client builder whose TLS runs on aws-lc-rs. Installs the process-wide rustls
/// provider on first use (later calls, and a provider installed by someone else, are fine).
pub fn client_builder() -> reqwest::ClientBuilder {
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// TLS is built in: an https URL is attempted with a real handshake, and a server that does
    /// not speak TLS is a clean error, never a panic or a plaintext exchange.
    #[tokio::test]
    async fn https_uses_tls_and_refuses_a_plaintext_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = conn.read(&mut buf).await;
                    let _ =
                        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
                });
            }
        });
        let client = super::client_builder().build().unwrap();
        let err = client.get(format!("https://{addr}/")).send().await.unwrap_err();
        assert!(err.is_connect() || err.is_request(), "{err:?}");
        // The same server over plain HTTP answers, so the failure above is TLS's.
        let ok = client.get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(ok.status(), 200);
    }
}
