//! Rate limits and lockouts: the arithmetic, with time as a parameter.
//!
//! A [`Policy`] has up to two fixed windows (burst and sustained) and an optional ladder of
//! lockout durations. [`check`] counts one attempt against a key (an IP address, an account, a
//! wallet, a token id) through a [`RateLimitStore`] whose increments are atomic, so that with
//! any number of concurrent requests and server instances exactly `limit` attempts pass in a
//! window. The first attempt over a limit locks the key for the next rung of the ladder; the
//! ladder resets after a quiet period.
//!
//! This crate does no I/O and knows nothing of HTTP: the server maps a [`Decision`] to
//! `429 Too Many Requests` with `Retry-After`.

mod policy;

use std::future::Future;
use std::time::Duration;

use aws_lc_rs::hmac;
use idseal_types::UnixTime;

pub use policy::{KeyKind, ParseError, Policy, Window, format_duration, parse_duration};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The counter store failed; callers fail closed.
    #[error("rate-limit store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An active lockout of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// The rung of the ladder reached (1 = first lockout).
    pub level: u32,
    /// Until when the key is locked.
    pub locked_until: UnixTime,
}

/// Durable, atomic counters. Implemented for SQLite and PostgreSQL by idseal-store.
pub trait RateLimitStore: Send + Sync {
    /// Atomically add one to the counter of `bucket` in the window starting at `window_start`
    /// (creating it, to expire at `expires_at`) and return the new count.
    fn hit(
        &self,
        bucket: &str,
        window_start: UnixTime,
        expires_at: UnixTime,
    ) -> impl Future<Output = Result<u64, RateLimitError>> + Send;

    /// [`hit`](Self::hit) each of `windows` (`(bucket, window_start, expires_at)`), returning the
    /// new counts in the same order. A store should do it in one atomic statement: a check
    /// then costs one durable write however many windows its policy has.
    fn hit_windows(
        &self,
        windows: &[(String, UnixTime, UnixTime)],
    ) -> impl Future<Output = Result<Vec<u64>, RateLimitError>> + Send {
        async move {
            let mut out = Vec::with_capacity(windows.len());
            for (bucket, start, expires) in windows {
                out.push(self.hit(bucket, *start, *expires).await?);
            }
            Ok(out)
        }
    }

    /// The current count of `bucket` in the window starting at `window_start` (0 if none),
    /// without adding to it.
    fn count(&self, bucket: &str, window_start: UnixTime) -> impl Future<Output = Result<u64, RateLimitError>> + Send;

    /// The lockout recorded for `bucket`, if any.
    fn lockout(&self, bucket: &str) -> impl Future<Output = Result<Option<Lockout>, RateLimitError>> + Send;

    /// Atomically record a new lockout: the level becomes 1 if the previous lockout began
    /// before `reset_before` (or there was none), else one more than before; `locked_until`
    /// is computed from the new level by `until`. Returns the stored lockout.
    fn escalate(
        &self,
        bucket: &str,
        now: UnixTime,
        reset_before: UnixTime,
        until: &(dyn Fn(u32) -> UnixTime + Sync),
    ) -> impl Future<Output = Result<Lockout, RateLimitError>> + Send;

    /// Delete counters that expired at or before `now` and lockouts that ended before
    /// `forget_before`.
    fn purge(&self, now: UnixTime, forget_before: UnixTime)
    -> impl Future<Output = Result<u64, RateLimitError>> + Send;
}

/// The outcome of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; `remaining` attempts are left in the tightest window.
    Allowed {
        /// Attempts left.
        remaining: u64,
    },
    /// Refused; try again after `retry_after`.
    Limited {
        /// Seconds until an attempt can succeed (at least 1).
        retry_after: Duration,
        /// Whether the key is locked out (as opposed to a window being full).
        locked: bool,
        /// Whether this attempt started the lockout (so the caller can audit it once).
        new_lockout: bool,
    },
}

/// The secret that keys bucket ids (derived from the master key by the server). Without it, a
/// stolen counter table cannot be reversed by hashing every IPv4 address or a list of e-mails.
pub struct BucketKey(hmac::Key);

impl BucketKey {
    /// A bucket key from 32 secret bytes.
    pub fn new(secret: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }
}

impl std::fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BucketKey(<redacted>)")
    }
}

/// The bucket id of a key under a policy: HMAC-SHA256 under the bucket key, so that counters
/// never hold e-mail or IP addresses in clear, nor anything a dictionary can reverse.
pub fn bucket(key: &BucketKey, policy: &Policy, kind: KeyKind, value: &str) -> String {
    let input = format!("{}\0{}\0{}", policy.name, kind.as_str(), value);
    hmac::sign(&key.0, input.as_bytes()).as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The start of the fixed window of length `period` that contains `now`.
pub fn window_start(now: UnixTime, period: Duration) -> UnixTime {
    let p = i64::try_from(period.as_secs().max(1)).unwrap_or(i64::MAX);
    UnixTime::from_secs(now.as_secs() - now.as_secs().rem_euclid(p))
}

/// Count one attempt of `value` (of kind `kind`) under `policy` at `now`.
pub async fn check<S: RateLimitStore>(
    store: &S,
    key: &BucketKey,
    policy: &Policy,
    kind: KeyKind,
    value: &str,
    now: UnixTime,
) -> Result<Decision, RateLimitError> {
    let bucket = bucket(key, policy, kind, value);
    if let Some(d) = locked(store, policy, &bucket, now).await? {
        return Ok(d);
    }
    // Every window is counted in one store call (one durable write), refused attempts included.
    let windows = windows(policy, &bucket, now);
    let keys: Vec<(String, UnixTime, UnixTime)> = windows.iter().map(|(_, b, s, e)| (b.clone(), *s, *e)).collect();
    let counts = store.hit_windows(&keys).await?;
    let mut remaining = u64::MAX;
    for ((w, _, _, end), count) in windows.into_iter().zip(counts) {
        let limit = u64::from(w.limit);
        if count > limit {
            if count == limit + 1 && !policy.lockout.is_empty() {
                let ladder = &policy.lockout;
                let until = |level: u32| {
                    let idx = usize::try_from(level.max(1) - 1).unwrap_or(usize::MAX).min(ladder.len() - 1);
                    now.saturating_add(ladder.get(idx).copied().unwrap_or_default())
                };
                let l = store.escalate(&bucket, now, now.saturating_sub(policy.lockout_reset), &until).await?;
                return Ok(Decision::Limited {
                    retry_after: at_least_1s(now.until(l.locked_until)),
                    locked: true,
                    new_lockout: true,
                });
            }
            return Ok(Decision::Limited {
                retry_after: at_least_1s(now.until(end)),
                locked: false,
                new_lockout: false,
            });
        }
        remaining = remaining.min(limit - count);
    }
    Ok(Decision::Allowed { remaining })
}

/// Whether `value` may try now under `policy`, without counting the try: refused while it is
/// locked out or a window is already full. With [`check`] called only for failed tries, a
/// policy counts failures while still refusing every try once the limit is reached (so the
/// owner's successful logins never lock the owner out).
pub async fn peek<S: RateLimitStore>(
    store: &S,
    key: &BucketKey,
    policy: &Policy,
    kind: KeyKind,
    value: &str,
    now: UnixTime,
) -> Result<Decision, RateLimitError> {
    let bucket = bucket(key, policy, kind, value);
    if let Some(d) = locked(store, policy, &bucket, now).await? {
        return Ok(d);
    }
    let mut remaining = u64::MAX;
    for (w, window_bucket, start, end) in windows(policy, &bucket, now) {
        let count = store.count(&window_bucket, start).await?;
        let limit = u64::from(w.limit);
        if count >= limit {
            return Ok(Decision::Limited {
                retry_after: at_least_1s(now.until(end)),
                locked: false,
                new_lockout: false,
            });
        }
        remaining = remaining.min(limit - count);
    }
    Ok(Decision::Allowed { remaining })
}

/// The lockout decision, when `bucket` is locked out now.
async fn locked<S: RateLimitStore>(
    store: &S,
    policy: &Policy,
    bucket: &str,
    now: UnixTime,
) -> Result<Option<Decision>, RateLimitError> {
    if !policy.lockout.is_empty()
        && let Some(l) = store.lockout(bucket).await?
        && l.locked_until > now
    {
        return Ok(Some(Decision::Limited {
            retry_after: at_least_1s(now.until(l.locked_until)),
            locked: true,
            new_lockout: false,
        }));
    }
    Ok(None)
}

/// The policy's windows at `now`: (window, counter bucket, start, end).
fn windows(policy: &Policy, bucket: &str, now: UnixTime) -> Vec<(Window, String, UnixTime, UnixTime)> {
    [("b", policy.burst), ("s", policy.sustained)]
        .into_iter()
        .filter_map(|(tag, w)| {
            let w = w?;
            let start = window_start(now, w.period);
            Some((w, format!("{bucket}:{tag}"), start, start.saturating_add(w.period)))
        })
        .collect()
}

fn at_least_1s(d: Duration) -> Duration {
    d.max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests;
