//! What the HTTP benchmark suites (`oauth`, `passwordless`) share: rates, raw CPU limits on
//! threads, percentiles, and the durable-commit limit of the server's own database.

use std::time::{Duration, Instant};

/// What a closed-loop run produced: counts, the first error, each latency, and what the
/// successful calls returned (`T`: e.g. refresh tokens to use next).
pub(crate) struct Run<T = ()> {
    /// Successful calls.
    pub(crate) ok: u64,
    /// Failed calls.
    pub(crate) failed: u64,
    /// The first failure's message.
    pub(crate) first_error: Option<String>,
    /// Each call's latency, milliseconds.
    pub(crate) latencies_ms: Vec<f64>,
    /// What successful calls returned.
    pub(crate) outputs: Vec<T>,
    /// Wall time of the run.
    pub(crate) elapsed: Duration,
}

impl<T> Default for Run<T> {
    fn default() -> Self {
        Self {
            ok: 0,
            failed: 0,
            first_error: None,
            latencies_ms: Vec::new(),
            outputs: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }
}

impl<T> Run<T> {
    /// Adds another worker's run.
    pub(crate) fn merge(&mut self, o: Self) {
        self.ok += o.ok;
        self.failed += o.failed;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.latencies_ms.extend(o.latencies_ms);
        self.outputs.extend(o.outputs);
    }

    /// Records one call started at `started`.
    pub(crate) fn record(&mut self, started: Instant, r: Result<Option<T>, String>) {
        self.latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
        match r {
            Ok(out) => {
                self.ok += 1;
                self.outputs.extend(out);
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

/// Operations per second.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub(crate) fn per_s(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Runs `work` on `threads` threads until `seconds` have passed (after 20 warm-up calls);
/// operations per second. `work` gets a number unique per call (thread in the high bits).
pub(crate) fn threaded_rate<F>(threads: usize, seconds: f64, work: F) -> anyhow::Result<f64>
where
    F: Fn(u64) -> anyhow::Result<()> + Sync,
{
    for i in 0..20 {
        work(u64::MAX - i)?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let total = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                s.spawn(move || {
                    let mut n = 0u64;
                    loop {
                        work(n.wrapping_add((t as u64) << 32))?;
                        n += 1;
                        if start.elapsed() >= budget {
                            return Ok::<u64, anyhow::Error>(n);
                        }
                    }
                })
            })
            .collect();
        let mut total = 0u64;
        for h in handles {
            total += h.join().map_err(|_| anyhow::anyhow!("a measurement thread panicked"))??;
        }
        Ok::<u64, anyhow::Error>(total)
    })?;
    Ok(per_s(total, start.elapsed()))
}

/// `x` rounded up to a count (0 for non-finite or negative).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
pub(crate) fn count(x: f64) -> usize {
    if x.is_finite() && x > 0.0 { x.ceil().min(usize::MAX as f64) as usize } else { 0 }
}

/// The median and the 99th percentile (nearest rank) of `v`.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn percentiles(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| s.get(count(s.len() as f64 * q).saturating_sub(1)).copied().unwrap_or(0.0);
    (at(0.50), at(0.99))
}

/// Raw one-row write transactions per second on `store`, `tasks` concurrent writers
/// ([`idseal_store::testing::raw_insert_batch`] of one 100-byte row): the durable-commit limit
/// that each grant or login pays several times.
pub(crate) async fn raw_commits(store: &idseal_store::Store, tasks: usize, seconds: f64) -> anyhow::Result<f64> {
    idseal_store::testing::raw_insert_batch(store, 0, &[vec![1u8; 100]]).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut handles = Vec::new();
    for k in 0..tasks.max(1) {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut id = i64::try_from(k)?.saturating_add(1).saturating_mul(1 << 32);
            while Instant::now() < deadline {
                idseal_store::testing::raw_insert_batch(&store, id, &[vec![2u8; 100]]).await?;
                id += 1;
                n += 1;
            }
            Ok::<u64, anyhow::Error>(n)
        }));
    }
    let mut total = 0u64;
    for h in handles {
        total += h.await??;
    }
    Ok(per_s(total, start.elapsed()))
}
