//! The trust-list cache (docs/trust.md, "Fetching and caching"): lists fetched over HTTP from
//! their published locations, kept for `trust.cache_ttl_secs` (1 h by default), refreshed with
//! conditional requests (`If-None-Match`, `If-Modified-Since`), with size and time limits.
//! A refreshed list must verify and its sequence number may never go backwards (rollback
//! refused). A cached list past its NextUpdate is never used: verification fails closed, with
//! a metric. When the origin cannot be reached, a cached list still within its NextUpdate is
//! used (its signature, not the transport, is what makes it trustworthy).
//!
//! The chain walk is synchronous and pure; [`TrustCache::verify_vds`] loads a
//! `VerifiedChain` from a snapshot of the cache, fetches whatever list it missed, and loads
//! again; the chain that verified a seal is kept for the next ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use idseal_trust::TrustError;
use idseal_trust::chain::{ChainReport, ListSource, TrustAnchors, VerifiedChain, check_sequence, verify_vds_with};
use idseal_trust::lists::{ListSummary, summary};
use idseal_trust::xmldsig::verify_enveloped;
use idseal_types::UnixTime;

/// Largest list accepted.
pub const MAX_LIST_BYTES: usize = 10 * 1024 * 1024;
/// Most fetch rounds for one verification (Governance, Scheme, TSL, VRL and slack).
const MAX_ROUNDS: usize = 8;

#[derive(Clone, Debug)]
struct Entry {
    xml: Arc<str>,
    fetched_at: UnixTime,
    etag: Option<String>,
    last_modified: Option<String>,
    summary: ListSummary,
}

/// Fetched, verified lists by location, and the chain loaded from them.
pub struct TrustCache {
    http: reqwest::Client,
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped whenever a list's content changes (a 304 does not change it).
    generation: std::sync::atomic::AtomicU64,
    /// The chain loaded from the cached lists (signatures checked once): used while no list
    /// changed and every list it was loaded from is within its TTL.
    chain: Mutex<Option<LoadedChain>>,
}

struct LoadedChain {
    governance_location: String,
    generation: u64,
    valid_until: UnixTime,
    chain: Arc<VerifiedChain>,
}

impl std::fmt::Debug for TrustCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustCache").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// Counts the cache's refusals, for the metrics endpoint.
pub trait CacheObserver: Send + Sync {
    /// A list could not be used: `reason` is `expired`, `rollback`, `invalid` or `unreachable`.
    fn refused(&self, reason: &'static str);
}

impl TrustCache {
    /// A cache keeping lists for `ttl`, fetching with `timeout`.
    pub fn new(ttl: Duration, timeout: Duration) -> Result<Self, TrustError> {
        let http = crate::http::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| TrustError::Fetch { location: String::new(), reason: e.to_string() })?;
        Ok(Self {
            http,
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            chain: Mutex::new(None),
        })
    }

    fn entry(&self, location: &str) -> Option<Entry> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).get(location).cloned()
    }

    /// The list at `location`, from the cache while it is fresh, else fetched (conditionally).
    /// A new list's sequence number is recorded in `ledger` (the database), so that a rollback
    /// is refused across restarts and instances too.
    pub async fn get(
        &self,
        location: &str,
        now: UnixTime,
        obs: &dyn CacheObserver,
        ledger: &idseal_store::Store,
    ) -> Result<Arc<str>, TrustError> {
        let cached = self.entry(location);
        let usable = |e: &Entry| -> Result<Arc<str>, TrustError> {
            if e.summary.next_update <= now {
                obs.refused("expired");
                return Err(TrustError::ListExpired { list: e.summary.kind, next_update: e.summary.next_update });
            }
            Ok(e.xml.clone())
        };
        if let Some(e) = &cached
            && now < e.fetched_at.saturating_add(self.ttl)
        {
            return usable(e);
        }
        match self.fetch(location, cached.as_ref(), now).await {
            Ok(Fetched::NotModified) => {
                let Some(mut e) = cached else { return Err(fetch_err(location, "304 without a cached copy")) };
                e.fetched_at = now;
                let out = usable(&e);
                self.entries.lock().unwrap_or_else(PoisonError::into_inner).insert(location.to_owned(), e);
                out
            }
            Ok(Fetched::New(e)) => {
                check_sequence(cached.as_ref().map(|c| c.summary.sequence_number), e.summary.sequence_number)
                    .inspect_err(|_| obs.refused("rollback"))?;
                let accepted = ledger
                    .accept_trust_sequence(location, e.summary.sequence_number, now)
                    .await
                    .map_err(|err| fetch_err(location, &format!("sequence ledger: {err}")))?;
                if !accepted {
                    obs.refused("rollback");
                    let previous = ledger.trust_sequence(location).await.ok().flatten().unwrap_or(0);
                    return Err(TrustError::SequenceRollback { previous, new: e.summary.sequence_number });
                }
                let out = usable(&e);
                let changed = cached.as_ref().is_none_or(|c| c.xml != e.xml);
                self.entries.lock().unwrap_or_else(PoisonError::into_inner).insert(location.to_owned(), e);
                if changed {
                    self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                out
            }
            Err(err @ TrustError::Fetch { .. }) => match cached {
                // Origin down: a copy still within its NextUpdate stays usable.
                Some(e) => {
                    tracing::warn!(%location, error = %err, "trust list unreachable; using the cached copy");
                    usable(&e)
                }
                None => {
                    obs.refused("unreachable");
                    Err(err)
                }
            },
            Err(err) => {
                obs.refused("invalid");
                Err(err)
            }
        }
    }

    async fn fetch(&self, location: &str, cached: Option<&Entry>, now: UnixTime) -> Result<Fetched, TrustError> {
        if !(location.starts_with("http://") || location.starts_with("https://")) {
            return Err(fetch_err(location, "not an http(s) URL"));
        }
        let mut req = self.http.get(location);
        if let Some(c) = cached {
            if let Some(etag) = &c.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &c.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let mut res = req.send().await.map_err(|e| fetch_err(location, &e.to_string()))?;
        if res.status() == reqwest::StatusCode::NOT_MODIFIED && cached.is_some() {
            return Ok(Fetched::NotModified);
        }
        if !res.status().is_success() {
            return Err(fetch_err(location, &format!("HTTP {}", res.status().as_u16())));
        }
        if res.content_length().is_some_and(|n| n > MAX_LIST_BYTES as u64) {
            return Err(TrustError::Xml(format!("{location}: larger than {MAX_LIST_BYTES} bytes")));
        }
        let header = |name| {
            res.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| fetch_err(location, &e.to_string()))? {
            if body.len() + chunk.len() > MAX_LIST_BYTES {
                return Err(TrustError::Xml(format!("{location}: larger than {MAX_LIST_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let xml = String::from_utf8(body).map_err(|_| TrustError::Xml(format!("{location}: not UTF-8")))?;
        let verified = verify_enveloped(&xml)?;
        let summary = summary(&verified)?;
        Ok(Fetched::New(Entry { xml: Arc::from(xml), fetched_at: now, etag, last_modified, summary }))
    }

    /// Verify a VDS through the chain, fetching the lists it needs (at most a few rounds). While
    /// no list changed and all are within their TTL, the chain loaded last time (list
    /// signatures already checked) is reused, so a seal costs only its own checks.
    pub async fn verify_vds(
        &self,
        anchors: &TrustAnchors,
        vds_text: &str,
        now: UnixTime,
        obs: &dyn CacheObserver,
        ledger: &idseal_store::Store,
    ) -> Result<ChainReport, TrustError> {
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let warm = self.chain.lock().unwrap_or_else(PoisonError::into_inner).as_ref().and_then(|c| {
            (c.governance_location == anchors.governance_location && c.generation == generation && now < c.valid_until)
                .then(|| c.chain.clone())
        });
        if let Some(chain) = warm {
            return verify_vds_with(&chain, vds_text, now);
        }
        let mut fetched_now: Vec<String> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let (snapshot, valid_until) = self.snapshot(now);
            // Loaded once per round; kept when it verifies the seal.
            let chain = VerifiedChain::load(anchors, &snapshot);
            match verify_vds_with(&chain, vds_text, now) {
                Err(TrustError::Fetch { location, .. }) if !fetched_now.contains(&location) => {
                    self.get(&location, now, obs, ledger).await?;
                    fetched_now.push(location);
                }
                Ok(report) => {
                    let chain = Arc::new(chain);
                    *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = Some(LoadedChain {
                        governance_location: anchors.governance_location.clone(),
                        generation: self.generation.load(std::sync::atomic::Ordering::SeqCst),
                        valid_until,
                        chain,
                    });
                    return Ok(report);
                }
                other => return other,
            }
        }
        Err(fetch_err(&anchors.governance_location, "too many lists"))
    }

    /// The lists within their TTL, and when the first of them leaves it.
    fn snapshot(&self, now: UnixTime) -> (Snapshot, UnixTime) {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let mut until = UnixTime::from_secs(i64::MAX);
        let mut lists = HashMap::new();
        for (k, e) in entries.iter() {
            let expires = e.fetched_at.saturating_add(self.ttl);
            if now < expires {
                until = until.min(expires);
                lists.insert(k.clone(), e.xml.clone());
            }
        }
        (Snapshot(lists), until)
    }
}

enum Fetched {
    NotModified,
    New(Entry),
}

fn fetch_err(location: &str, reason: &str) -> TrustError {
    TrustError::Fetch { location: location.to_owned(), reason: reason.to_owned() }
}

/// The cache's fresh lists, as the pure chain walk reads them.
struct Snapshot(HashMap<String, Arc<str>>);

impl ListSource for Snapshot {
    fn fetch(&self, location: &str) -> Result<String, TrustError> {
        self.0.get(location).map(|x| x.to_string()).ok_or_else(|| fetch_err(location, "not cached yet"))
    }
}
