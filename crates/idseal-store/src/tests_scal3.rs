//! SCAL3 storage (credentials, PIN failures, challenges), on both backends.

use idseal_types::UnixTime;

use crate::tests::{Kind, TestDb, both_backends};
use crate::{Scal3ChallengeRow, Scal3CredentialRow, Scal3PinOutcome, Store, StoreError};

both_backends!(
    scal3_credential_insert_once,
    scal3_pin_failures_lock_at_max,
    scal3_pin_failures_concurrent_two_pools,
    scal3_pin_success_resets_unless_locked,
    scal3_challenge_consumed_once,
    scal3_challenge_consume_concurrent_two_pools,
    scal3_challenge_expired_or_unknown_not_consumed,
    scal3_authorize_then_take_once,
    scal3_purge_expired_challenges,
);

const T0: i64 = 1_800_000_000;

fn t(offset: i64) -> UnixTime {
    UnixTime::from_secs(T0 + offset)
}

fn credential(token: &str) -> Scal3CredentialRow {
    Scal3CredentialRow {
        token_id: token.into(),
        // Every byte value, so a text column or an encoding slip would show.
        credential: (0..=255u8).chain([0, 0, 255]).collect(),
        vk: [2u8].into_iter().chain([0xa5; 32]).collect(),
        device_pk: [3u8].into_iter().chain([0x5a; 32]).collect(),
        pin_failures: 0,
        locked_at: None,
        created_at: t(0),
    }
}

fn cid(n: u8) -> Vec<u8> {
    let mut id = vec![0xc0; 32];
    id[31] = n;
    id[0] = 0; // a leading zero byte must survive too
    id
}

fn challenge(id: &[u8], token: &str, instruction: &str, expires: i64) -> Scal3ChallengeRow {
    Scal3ChallengeRow {
        challenge_id: id.to_vec(),
        token_id: token.into(),
        instruction: instruction.into(),
        instruction_hash: "ab".repeat(32),
        created_at: t(0),
        expires_at: t(expires),
        used_at: None,
        authorized_at: None,
        record: None,
    }
}

const LOGIN: &str = r#"{"op":"approve_login","scopes":"identity:full","session":"s1"}"#;
const REVOKE: &str = r#"{"op":"revoke_enrollment","tokenId":"tok1"}"#;

async fn scal3_credential_insert_once(db: &TestDb) {
    let s = db.store().await;
    let c = credential("tok1");
    assert_eq!(s.scal3_credential("tok1").await.unwrap(), None);
    assert!(s.insert_scal3_credential(&c).await.unwrap());
    assert_eq!(s.scal3_credential("tok1").await.unwrap(), Some(c.clone()));

    // A second credential for the same token is refused, and the first one is kept.
    let mut other = credential("tok1");
    other.vk = vec![3; 33];
    other.credential = b"another".to_vec();
    assert!(!s.insert_scal3_credential(&other).await.unwrap());
    assert_eq!(s.scal3_credential("tok1").await.unwrap(), Some(c));

    // Another token is independent, and a locked row round-trips its lock time.
    let mut locked = credential("tok2");
    (locked.pin_failures, locked.locked_at) = (5, Some(t(9)));
    assert!(s.insert_scal3_credential(&locked).await.unwrap());
    assert_eq!(s.scal3_credential("tok2").await.unwrap(), Some(locked));
    assert_eq!(s.scal3_credential("tok3").await.unwrap(), None);
}

async fn scal3_pin_failures_lock_at_max(db: &TestDb) {
    let s = db.store().await;
    s.insert_scal3_credential(&credential("tok1")).await.unwrap();
    for n in 1..=4 {
        assert_eq!(s.scal3_pin_failure("tok1", 5, t(n)).await.unwrap(), Scal3PinOutcome::Counted { failures: n });
    }
    assert_eq!(s.scal3_credential("tok1").await.unwrap().unwrap().locked_at, None);
    // The fifth locks, at its time.
    assert_eq!(s.scal3_pin_failure("tok1", 5, t(5)).await.unwrap(), Scal3PinOutcome::Locked);
    let row = s.scal3_credential("tok1").await.unwrap().unwrap();
    assert_eq!((row.pin_failures, row.locked_at), (5, Some(t(5))));
    // Locked: further failures are not counted and the lock time stays.
    assert_eq!(s.scal3_pin_failure("tok1", 5, t(6)).await.unwrap(), Scal3PinOutcome::Locked);
    let row = s.scal3_credential("tok1").await.unwrap().unwrap();
    assert_eq!((row.pin_failures, row.locked_at), (5, Some(t(5))));

    // A token without a credential is an error, and creates nothing.
    assert!(matches!(s.scal3_pin_failure("nobody", 5, t(1)).await.unwrap_err(), StoreError::Invalid(_)));
    assert_eq!(s.scal3_credential("nobody").await.unwrap(), None);

    // A limit of one locks at the first failure.
    s.insert_scal3_credential(&credential("tok2")).await.unwrap();
    assert_eq!(s.scal3_pin_failure("tok2", 1, t(1)).await.unwrap(), Scal3PinOutcome::Locked);
    assert_eq!(s.scal3_credential("tok2").await.unwrap().unwrap().locked_at, Some(t(1)));
}

async fn scal3_pin_failures_concurrent_two_pools(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_scal3_credential(&credential("tok1")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.scal3_pin_failure("tok1", 5, t(i)).await }));
    }
    let mut counted = Vec::new();
    let mut locked = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Scal3PinOutcome::Counted { failures } => counted.push(failures),
            Scal3PinOutcome::Locked => locked += 1,
        }
    }
    counted.sort_unstable();
    // Four counted while unlocked, the fifth locked it, the other five found it locked.
    assert_eq!((counted, locked), (vec![1, 2, 3, 4], 6));
    let row = b.scal3_credential("tok1").await.unwrap().unwrap();
    assert_eq!(row.pin_failures, 5, "never more than max failures counted");
    assert!(row.locked_at.is_some());
}

async fn scal3_pin_success_resets_unless_locked(db: &TestDb) {
    let s = db.store().await;
    s.insert_scal3_credential(&credential("tok1")).await.unwrap();
    for n in 1..=3 {
        s.scal3_pin_failure("tok1", 5, t(n)).await.unwrap();
    }
    assert!(s.scal3_pin_success("tok1").await.unwrap());
    assert_eq!(s.scal3_credential("tok1").await.unwrap().unwrap().pin_failures, 0);
    // Counting starts again from zero: four more do not lock, the fifth does.
    for n in 1..=4 {
        assert_eq!(s.scal3_pin_failure("tok1", 5, t(10)).await.unwrap(), Scal3PinOutcome::Counted { failures: n });
    }
    assert_eq!(s.scal3_pin_failure("tok1", 5, t(11)).await.unwrap(), Scal3PinOutcome::Locked);
    // A right PIN does not unlock a locked credential.
    assert!(!s.scal3_pin_success("tok1").await.unwrap());
    let row = s.scal3_credential("tok1").await.unwrap().unwrap();
    assert_eq!((row.pin_failures, row.locked_at), (5, Some(t(11))));
    assert_eq!(s.scal3_pin_failure("tok1", 5, t(12)).await.unwrap(), Scal3PinOutcome::Locked);
    // No such credential.
    assert!(!s.scal3_pin_success("nobody").await.unwrap());
}

async fn scal3_challenge_consumed_once(db: &TestDb) {
    let s = db.store().await;
    let c = challenge(&cid(1), "tok1", REVOKE, 120);
    s.insert_scal3_challenge(&c).await.unwrap();
    assert_eq!(s.scal3_challenge(&cid(1)).await.unwrap(), Some(c.clone()));
    assert_eq!(s.scal3_challenge(&cid(2)).await.unwrap(), None);
    // A taken id is a conflict, and the first row is kept.
    let dup = challenge(&cid(1), "tok2", LOGIN, 500);
    assert!(matches!(s.insert_scal3_challenge(&dup).await.unwrap_err(), StoreError::Conflict(_)));
    assert_eq!(s.scal3_challenge(&cid(1)).await.unwrap(), Some(c.clone()));

    let used = s.consume_scal3_challenge(&cid(1), t(10)).await.unwrap().unwrap();
    assert_eq!(used, Scal3ChallengeRow { used_at: Some(t(10)), ..c.clone() });
    assert_eq!(s.consume_scal3_challenge(&cid(1), t(11)).await.unwrap(), None);
    assert_eq!(s.scal3_challenge(&cid(1)).await.unwrap().unwrap().used_at, Some(t(10)), "first use kept");
}

async fn scal3_challenge_consume_concurrent_two_pools(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_scal3_challenge(&challenge(&cid(1), "tok1", REVOKE, 120)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.consume_scal3_challenge(&cid(1), t(i + 1)).await }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(row) = task.await.unwrap().unwrap() {
            winners.push(row.used_at);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one consumer");
    assert_eq!(a.scal3_challenge(&cid(1)).await.unwrap().unwrap().used_at, winners.into_iter().next().flatten());
}

async fn scal3_challenge_expired_or_unknown_not_consumed(db: &TestDb) {
    let s = db.store().await;
    s.insert_scal3_challenge(&challenge(&cid(1), "tok1", REVOKE, 120)).await.unwrap();
    // At the expiry instant it is expired already.
    assert_eq!(s.consume_scal3_challenge(&cid(1), t(120)).await.unwrap(), None);
    assert_eq!(s.consume_scal3_challenge(&cid(1), t(500)).await.unwrap(), None);
    assert_eq!(s.scal3_challenge(&cid(1)).await.unwrap().unwrap().used_at, None, "an expired try leaves no mark");
    // Unknown ids, including a prefix of a real one.
    assert_eq!(s.consume_scal3_challenge(&cid(2), t(1)).await.unwrap(), None);
    assert_eq!(s.consume_scal3_challenge(cid(1).get(..31).unwrap(), t(1)).await.unwrap(), None);
    // One second before expiry it still works.
    assert!(s.consume_scal3_challenge(&cid(1), t(119)).await.unwrap().is_some());
    // Nor can an expired challenge be authorised without having been consumed.
    s.insert_scal3_challenge(&challenge(&cid(3), "tok1", REVOKE, 120)).await.unwrap();
    assert!(!s.authorize_scal3_challenge(&cid(3), b"record", t(200)).await.unwrap());
}

async fn authorized(s: &Store, id: &[u8], token: &str, instruction: &str) {
    s.insert_scal3_challenge(&challenge(id, token, instruction, 120)).await.unwrap();
    assert!(s.consume_scal3_challenge(id, t(1)).await.unwrap().is_some());
    assert!(s.authorize_scal3_challenge(id, b"record-1", t(2)).await.unwrap());
}

async fn scal3_authorize_then_take_once(db: &TestDb) {
    let s = db.store().await;
    // Not consumed: cannot be authorised, nor taken.
    s.insert_scal3_challenge(&challenge(&cid(1), "tok1", LOGIN, 120)).await.unwrap();
    assert!(!s.authorize_scal3_challenge(&cid(1), b"record-1", t(2)).await.unwrap());
    assert!(!s.authorize_scal3_challenge(&cid(9), b"record-1", t(2)).await.unwrap(), "unknown id");
    // Consumed but not authorised (a failed proof): not taken.
    assert!(s.consume_scal3_challenge(&cid(1), t(1)).await.unwrap().is_some());
    assert!(!s.take_scal3_authorization("tok1", LOGIN, &cid(1), t(3)).await.unwrap());

    // Authorised once, with its record; a second authorisation does not replace it.
    assert!(s.authorize_scal3_challenge(&cid(1), b"record-1", t(2)).await.unwrap());
    assert!(!s.authorize_scal3_challenge(&cid(1), b"record-2", t(3)).await.unwrap());
    let row = s.scal3_challenge(&cid(1)).await.unwrap().unwrap();
    assert_eq!((row.authorized_at, row.record), (Some(t(2)), Some(b"record-1".to_vec())));

    // Taken only with its own token and exactly its instruction.
    assert!(!s.take_scal3_authorization("tok2", LOGIN, &cid(1), t(3)).await.unwrap());
    assert!(!s.take_scal3_authorization("tok1", REVOKE, &cid(1), t(3)).await.unwrap());
    let almost = LOGIN.replace("s1", "s2");
    assert!(!s.take_scal3_authorization("tok1", &almost, &cid(1), t(3)).await.unwrap());
    assert!(!s.take_scal3_authorization("tok1", LOGIN, &cid(2), t(3)).await.unwrap());
    // Then once.
    assert!(s.take_scal3_authorization("tok1", LOGIN, &cid(1), t(3)).await.unwrap());
    assert!(!s.take_scal3_authorization("tok1", LOGIN, &cid(1), t(4)).await.unwrap());

    // Concurrent takers on two pools: exactly one wins.
    let b = db.store().await;
    authorized(&s, &cid(5), "tok1", LOGIN).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let st = if i % 2 == 0 { s.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { st.take_scal3_authorization("tok1", LOGIN, &cid(5), t(i)).await }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

async fn scal3_purge_expired_challenges(db: &TestDb) {
    let s = db.store().await;
    s.insert_scal3_challenge(&challenge(&cid(1), "tok1", REVOKE, 100)).await.unwrap();
    s.insert_scal3_challenge(&challenge(&cid(2), "tok1", REVOKE, 200)).await.unwrap();
    s.insert_scal3_challenge(&challenge(&cid(3), "tok2", REVOKE, 300)).await.unwrap();
    authorized(&s, &cid(4), "tok1", LOGIN).await; // expires at 120

    // Strictly before: one expiring at the cut is kept.
    assert_eq!(s.purge_scal3_challenges(t(100)).await.unwrap(), 0);
    assert_eq!(s.purge_scal3_challenges(t(101)).await.unwrap(), 1);
    assert_eq!(s.scal3_challenge(&cid(1)).await.unwrap(), None);
    // Authorised ones go too once expired (their record is in the audit log).
    assert_eq!(s.purge_scal3_challenges(t(201)).await.unwrap(), 2);
    assert_eq!(s.scal3_challenge(&cid(4)).await.unwrap(), None);
    assert_eq!(s.scal3_challenge(&cid(2)).await.unwrap(), None);
    assert!(s.scal3_challenge(&cid(3)).await.unwrap().is_some());
    assert_eq!(s.purge_scal3_challenges(t(201)).await.unwrap(), 0);
}
