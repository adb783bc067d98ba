//! The cross-instance event bus, for WebSocket fan-out.
//!
//! On SQLite (one process) a message goes into a process-wide broadcast channel held by the
//! store. On PostgreSQL it goes out as a `pg_notify('idseal_bus', …)` and comes back to every
//! instance (this one included) through one `LISTEN` connection per store, which feeds the same
//! kind of broadcast channel: every subscriber on every instance receives each message exactly
//! once while its listener is connected. Messages published while a listener is reconnecting
//! are lost (NOTIFY is not durable): subscribers must treat the bus as a hint and read state
//! from the database.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{OnceCell, broadcast};
use tokio::task::JoinHandle;

use crate::StoreError;

/// The PostgreSQL channel the bus uses.
const CHANNEL: &str = "idseal_bus";

/// Capacity of the local broadcast channel: a subscriber that falls this far behind gets
/// `RecvError::Lagged`.
const CAPACITY: usize = 4096;

/// The largest encoded message (`{"t": topic, "p": payload}` as JSON) the bus carries, on both
/// backends: under PostgreSQL's 8000-byte notification limit.
pub const MAX_NOTIFICATION_BYTES: usize = 7900;

/// Pauses between reconnection attempts of the listener, the last one repeated.
const BACKOFF_MS: [u64; 4] = [100, 250, 500, 1000];

/// One message on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusMessage {
    /// What it is about (for instance `session:<id>`); subscribers filter on it.
    pub topic: String,
    /// The message, opaque to the bus.
    pub payload: String,
}

/// The event bus of a store; see the module documentation.
#[derive(Debug)]
pub struct EventBus {
    tx: broadcast::Sender<BusMessage>,
    /// The pool to notify through and listen on; `None` for the in-process (SQLite) bus.
    pg: Option<PgPool>,
    /// The listener task, started by the first [`subscribe`](Self::subscribe).
    listener: OnceCell<JoinHandle<()>>,
}

impl Drop for EventBus {
    fn drop(&mut self) {
        if let Some(task) = self.listener.get() {
            task.abort();
        }
    }
}

impl EventBus {
    /// The in-process bus of a SQLite store.
    pub(crate) fn local() -> Self {
        Self { tx: broadcast::channel(CAPACITY).0, pg: None, listener: OnceCell::new() }
    }

    /// The bus of a PostgreSQL store, over `pool`.
    pub(crate) fn postgres(pool: PgPool) -> Self {
        Self { tx: broadcast::channel(CAPACITY).0, pg: Some(pool), listener: OnceCell::new() }
    }

    /// Publish `payload` under `topic` to every subscriber of every instance. A message whose
    /// encoding exceeds [`MAX_NOTIFICATION_BYTES`] is [`StoreError::TooLarge`] (on both
    /// backends, so that code tested on one behaves alike on the other). Having no subscriber
    /// is not an error.
    pub async fn publish(&self, topic: &str, payload: &str) -> Result<(), StoreError> {
        let encoded = serde_json::json!({ "t": topic, "p": payload }).to_string();
        if encoded.len() > MAX_NOTIFICATION_BYTES {
            return Err(StoreError::TooLarge { size: encoded.len(), max: MAX_NOTIFICATION_BYTES });
        }
        match &self.pg {
            // Not sent locally: it comes back through this instance's own listener.
            Some(pool) => {
                sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&encoded).execute(pool).await?;
            }
            None => {
                // An error only means that nobody listens right now.
                let _ = self.tx.send(BusMessage { topic: topic.to_owned(), payload: payload.to_owned() });
            }
        }
        Ok(())
    }

    /// A receiver of every message published from now on. On PostgreSQL the first call
    /// connects the store's listener (and fails if it cannot); once this returns, messages
    /// published anywhere reach the receiver.
    pub async fn subscribe(&self) -> Result<broadcast::Receiver<BusMessage>, StoreError> {
        // Subscribe first, so that nothing forwarded after the listener is up is missed.
        let rx = self.tx.subscribe();
        if let Some(pool) = &self.pg {
            self.listener
                .get_or_try_init(|| async {
                    let mut listener = PgListener::connect_with(pool).await?;
                    listener.listen(CHANNEL).await?;
                    Ok::<_, StoreError>(tokio::spawn(forward(listener, self.tx.clone())))
                })
                .await?;
        }
        Ok(rx)
    }
}

/// Forward every notification of `listener` into `tx` until the pool is closed (or the task is
/// aborted with its bus). `PgListener` reconnects and listens again by itself; errors are
/// logged and retried after a short pause.
async fn forward(mut listener: PgListener, tx: broadcast::Sender<BusMessage>) {
    let mut failures = 0usize;
    loop {
        match listener.recv().await {
            Ok(n) => {
                failures = 0;
                match decode(n.payload()) {
                    Some(msg) => {
                        let _ = tx.send(msg);
                    }
                    None => tracing::warn!(channel = CHANNEL, "ignored a malformed event-bus notification"),
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                let pause = BACKOFF_MS.get(failures).or(BACKOFF_MS.last()).copied().unwrap_or(1000);
                tracing::warn!(error = %e, retry_ms = pause, "event-bus listener lost its connection");
                failures = failures.saturating_add(1);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }
}

/// Decode a notification payload `{"t": topic, "p": payload}`.
fn decode(raw: &str) -> Option<BusMessage> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    Some(BusMessage { topic: v.get("t")?.as_str()?.to_owned(), payload: v.get("p")?.as_str()?.to_owned() })
}

#[cfg(test)]
mod unit {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn decode_accepts_only_the_bus_shape() {
        let m = decode(r#"{"t":"session:1","p":"{\"x\":1}"}"#).unwrap();
        assert_eq!(m, BusMessage { topic: "session:1".into(), payload: r#"{"x":1}"#.into() });
        assert_eq!(decode("not json"), None);
        assert_eq!(decode(r#"{"t":"a"}"#), None);
        assert_eq!(decode(r#"{"t":1,"p":"x"}"#), None);
    }
}
