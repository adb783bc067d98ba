//! The arithmetic on a fixed clock, against an in-memory store with the SQL stores' contract.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;

#[derive(Default)]
struct MemStore {
    counters: Mutex<HashMap<(String, i64), (u64, i64)>>,
    lockouts: Mutex<HashMap<String, (Lockout, UnixTime)>>,
}

impl RateLimitStore for MemStore {
    async fn hit(&self, bucket: &str, window_start: UnixTime, expires_at: UnixTime) -> Result<u64, RateLimitError> {
        let mut c = self.counters.lock().unwrap();
        let e = c.entry((bucket.to_owned(), window_start.as_secs())).or_insert((0, expires_at.as_secs()));
        e.0 += 1;
        Ok(e.0)
    }
    async fn count(&self, bucket: &str, window_start: UnixTime) -> Result<u64, RateLimitError> {
        Ok(self.counters.lock().unwrap().get(&(bucket.to_owned(), window_start.as_secs())).map_or(0, |e| e.0))
    }
    async fn lockout(&self, bucket: &str) -> Result<Option<Lockout>, RateLimitError> {
        Ok(self.lockouts.lock().unwrap().get(bucket).map(|(l, _)| *l))
    }
    async fn escalate(
        &self,
        bucket: &str,
        now: UnixTime,
        reset_before: UnixTime,
        until: &(dyn Fn(u32) -> UnixTime + Sync),
    ) -> Result<Lockout, RateLimitError> {
        let mut m = self.lockouts.lock().unwrap();
        let level = match m.get(bucket) {
            Some((l, at)) if *at >= reset_before => l.level + 1,
            _ => 1,
        };
        let l = Lockout { level, locked_until: until(level) };
        m.insert(bucket.to_owned(), (l, now));
        Ok(l)
    }
    async fn purge(&self, now: UnixTime, _forget_before: UnixTime) -> Result<u64, RateLimitError> {
        let mut c = self.counters.lock().unwrap();
        let before = c.len();
        c.retain(|_, (_, exp)| *exp > now.as_secs());
        Ok((before - c.len()) as u64)
    }
}

fn block<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

static KEY: std::sync::LazyLock<BucketKey> = std::sync::LazyLock::new(|| BucketKey::new(&[7; 32]));

const T0: i64 = 1_800_000_000; // a multiple of 3600: windows start here.

fn at(offset: i64) -> UnixTime {
    UnixTime::from_secs(T0 + offset)
}

#[test]
fn window_start_is_aligned() {
    assert_eq!(window_start(at(59), secs(60)), at(0));
    assert_eq!(window_start(at(60), secs(60)), at(60));
    assert_eq!(window_start(at(3599), secs(3600)), at(0));
    assert_eq!(window_start(UnixTime::from_secs(-1), secs(60)), UnixTime::from_secs(-60));
}

#[test]
fn burst_allows_exactly_the_limit_then_waits_for_the_window() {
    let s = MemStore::default();
    let p = Policy::new("t", Some("5/1m".parse().unwrap()), None);
    for i in 0..5u64 {
        assert_eq!(
            block(check(&s, &KEY, &p, KeyKind::Ip, "1.2.3.4", at(10))).unwrap(),
            Decision::Allowed { remaining: 4 - i }
        );
    }
    let d = block(check(&s, &KEY, &p, KeyKind::Ip, "1.2.3.4", at(10))).unwrap();
    assert_eq!(d, Decision::Limited { retry_after: secs(50), locked: false, new_lockout: false });
    // Another key is independent.
    assert!(matches!(block(check(&s, &KEY, &p, KeyKind::Ip, "1.2.3.5", at(10))).unwrap(), Decision::Allowed { .. }));
    // Next window.
    assert!(matches!(block(check(&s, &KEY, &p, KeyKind::Ip, "1.2.3.4", at(60))).unwrap(), Decision::Allowed { .. }));
}

#[test]
fn sustained_window_caps_across_bursts() {
    let s = MemStore::default();
    let p = Policy::new("t", Some("5/1m".parse().unwrap()), Some("15/1h".parse().unwrap()));
    let mut allowed = 0;
    for minute in 0..10 {
        for _ in 0..6 {
            if matches!(
                block(check(&s, &KEY, &p, KeyKind::Account, "a@x", at(minute * 60))).unwrap(),
                Decision::Allowed { .. }
            ) {
                allowed += 1;
            }
        }
    }
    // Every attempt counts in every window, refused ones included (one write per check): the
    // refused sixth attempts of minutes 0 and 1 use up two of the hour's fifteen.
    assert_eq!(allowed, 13);
    let d = block(check(&s, &KEY, &p, KeyKind::Account, "a@x", at(600))).unwrap();
    assert_eq!(d, Decision::Limited { retry_after: secs(3000), locked: false, new_lockout: false });
}

#[test]
fn lockouts_escalate_along_the_ladder_and_reset_after_quiet() {
    let s = MemStore::default();
    let p = Policy::new("login_ip", Some("5/1m".parse().unwrap()), None).with_lockout(vec![secs(60), secs(900)]);
    let hammer = |t: i64| {
        let mut last = None;
        for _ in 0..6 {
            last = Some(block(check(&s, &KEY, &p, KeyKind::Ip, "9.9.9.9", at(t))).unwrap());
        }
        last.unwrap()
    };
    assert_eq!(hammer(0), Decision::Limited { retry_after: secs(60), locked: true, new_lockout: true });
    // While locked, even a fresh window is refused, with the lockout's remaining time.
    assert_eq!(
        block(check(&s, &KEY, &p, KeyKind::Ip, "9.9.9.9", at(30))).unwrap(),
        Decision::Limited { retry_after: secs(30), locked: true, new_lockout: false }
    );
    // Second lockout: 15 min. Third: the last rung repeats.
    assert_eq!(hammer(120), Decision::Limited { retry_after: secs(900), locked: true, new_lockout: true });
    assert_eq!(hammer(1080), Decision::Limited { retry_after: secs(900), locked: true, new_lockout: true });
    // After a day without lockouts, the ladder starts again at 1 min.
    assert_eq!(hammer(1080 + 86400 + 60), Decision::Limited { retry_after: secs(60), locked: true, new_lockout: true });
}

#[test]
fn retry_after_is_never_zero() {
    let s = MemStore::default();
    let p = Policy::new("t", Some("1/1m".parse().unwrap()), None);
    block(check(&s, &KEY, &p, KeyKind::Ip, "x", at(59))).unwrap();
    let d = block(check(&s, &KEY, &p, KeyKind::Ip, "x", UnixTime::from_secs(T0 + 59))).unwrap();
    assert_eq!(d, Decision::Limited { retry_after: secs(1), locked: false, new_lockout: false });
}

#[test]
fn buckets_hide_the_key_and_separate_policies_and_kinds() {
    let p = Policy::new("login_email", None, None);
    let q = Policy::new("registration", None, None);
    let b = bucket(&KEY, &p, KeyKind::Account, "alice@example.com");
    assert!(!b.contains("alice"));
    assert_eq!(b.len(), 32);
    assert_ne!(b, bucket(&KEY, &q, KeyKind::Account, "alice@example.com"));
    assert_ne!(b, bucket(&KEY, &p, KeyKind::Wallet, "alice@example.com"));
    // Another deployment's key gives other ids: the table cannot be reversed without the key.
    assert_ne!(b, bucket(&BucketKey::new(&[8; 32]), &p, KeyKind::Account, "alice@example.com"));
    assert_eq!(format!("{:?}", *KEY), "BucketKey(<redacted>)");
}

#[test]
fn window_text_form() {
    let w: Window = "15/1h".parse().unwrap();
    assert_eq!((w.limit, w.period), (15, secs(3600)));
    assert_eq!(w.to_string(), "15/1h");
    assert_eq!("3/5m".parse::<Window>().unwrap().to_string(), "3/5m");
    assert_eq!("10/90s".parse::<Window>().unwrap().to_string(), "10/90s");
    for bad in
        ["", "5", "0/1m", "5/0s", "5/1y", "5/m", "x/1m", "-1/1m", "5/99999999999999999999d", "99999999999/1m", "5/367d"]
    {
        assert!(bad.parse::<Window>().is_err(), "{bad}");
    }
    let v: Window = serde_json::from_str("\"60/1m\"").unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), "\"60/1m\"");
}

#[test]
fn peek_does_not_count_and_sees_full_windows_and_lockouts() {
    let s = MemStore::default();
    let p = Policy::new("p", Some("2/1m".parse().unwrap()), None).with_lockout(vec![Duration::from_secs(900)]);
    let peek = |t| block(peek(&s, &KEY, &p, KeyKind::Account, "a@x", at(t))).unwrap();
    for _ in 0..5 {
        assert!(matches!(peek(1), Decision::Allowed { remaining: 2 }), "peeking never counts");
    }
    block(check(&s, &KEY, &p, KeyKind::Account, "a@x", at(1))).unwrap();
    assert!(matches!(peek(1), Decision::Allowed { remaining: 1 }));
    block(check(&s, &KEY, &p, KeyKind::Account, "a@x", at(1))).unwrap();
    // The window is full: refused, not locked, until the window ends.
    assert_eq!(peek(10), Decision::Limited { retry_after: secs(50), locked: false, new_lockout: false });
    // A third counted try starts the lockout, which peek then reports.
    let d = block(check(&s, &KEY, &p, KeyKind::Account, "a@x", at(10))).unwrap();
    assert!(matches!(d, Decision::Limited { new_lockout: true, .. }));
    assert_eq!(peek(70), Decision::Limited { retry_after: secs(840), locked: true, new_lockout: false });
    assert!(matches!(peek(10 + 900), Decision::Allowed { .. }));
}
