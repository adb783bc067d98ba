//! Audit calls made by the HTTP layer. A failure to write is logged and, where the action
//! depends on it, turned into an error by the caller.

use std::net::IpAddr;

use idseal_types::{AuditEvent, AuditEventKind, AuditSink};

use crate::state::AppState;

/// A rate-limit lockout began. The bucket key is not recorded in clear: the IP is.
pub async fn lockout(st: &AppState, policy: &str, ip: Option<IpAddr>) {
    let ev = AuditEvent::new(AuditEventKind::RateLimitLockout, st.clock.now(), "system")
        .subject(policy.to_owned())
        .request(ip, None);
    if let Err(e) = st.store.record(&ev).await {
        tracing::error!(error = %e, "audit write failed");
    }
}
