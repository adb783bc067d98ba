//! The audit log's storage, on both backends.

use idseal_tlog::proof::{verify_consistency, verify_inclusion};
use idseal_tlog::{MemoryTree, hash};
use idseal_types::{AuditEvent, AuditEventKind, AuditSink, UnixTime};

use crate::tests::{Kind, TestDb, both_backends, join_all};
use crate::{StoreError, with_pool};

both_backends!(
    tlog_roots_and_proofs_match_memory_tree,
    tlog_concurrent_appends_are_gap_free,
    tlog_tables_are_append_only,
    tlog_fork_checkpoint_refused,
    tlog_audit_record_appends_entry,
    tlog_subject_tiles_and_audit_query,
    tlog_audit_group_commit,
    tlog_audit_group_commit_failure,
);

fn entry(i: usize) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

async fn tlog_roots_and_proofs_match_memory_tree(db: &TestDb) {
    let s = db.store().await;
    assert_eq!(s.tlog_size().await.unwrap(), 0);
    assert_eq!(s.tlog_root(0).await.unwrap(), hash::empty_root());
    let mut mem = MemoryTree::new();
    let mut n = 0usize;
    // Batches of varied sizes, crossing many power-of-two boundaries.
    for batch in [1usize, 1, 2, 3, 5, 8, 13, 0, 21, 7, 1, 30] {
        let entries: Vec<Vec<u8>> = (n..n + batch).map(entry).collect();
        let (first, size) = s.tlog_append(&entries).await.unwrap();
        assert_eq!((first, size), (n as u64, (n + batch) as u64));
        for e in &entries {
            mem.append(e);
        }
        n += batch;
    }
    let size = n as u64;
    assert_eq!(s.tlog_size().await.unwrap(), size);
    for k in 1..=size {
        let root = s.tlog_root(k).await.unwrap();
        assert_eq!(root, mem.root_at(k).unwrap(), "root of size {k}");
    }
    let full = mem.root_at(size).unwrap();
    for i in 0..size {
        let p = s.tlog_inclusion_proof(i, size).await.unwrap();
        let e = s.tlog_entry(i).await.unwrap().unwrap();
        assert_eq!(e.data, entry(usize::try_from(i).unwrap()));
        verify_inclusion(&hash::leaf_hash(&e.data), i, size, &p, &full).unwrap();
    }
    for k in [1, 2, 3, 7, 8, 9, 31, 32, 33, size - 1, size] {
        let p = s.tlog_consistency_proof(k, size).await.unwrap();
        verify_consistency(k, size, &p, &mem.root_at(k).unwrap(), &full).unwrap();
    }
    // Out of range is refused, never answered.
    assert!(s.tlog_root(size + 1).await.is_err());
    assert!(s.tlog_inclusion_proof(size, size).await.is_err());
    assert!(s.tlog_inclusion_proof(0, size + 1).await.is_err());
    assert!(s.tlog_consistency_proof(3, size + 1).await.is_err());
    assert!(s.tlog_consistency_proof(4, 3).await.is_err());
    assert!(s.tlog_entry(size).await.unwrap().is_none());
}

async fn tlog_concurrent_appends_are_gap_free(db: &TestDb) {
    // Two instances (two pools), each appending many small batches at once.
    let a = db.store().await;
    let b = db.store().await;
    let work = |s: crate::Store, tag: &'static str| async move {
        for i in 0..20 {
            let batch: Vec<Vec<u8>> = (0..3).map(|j| format!("{tag} {i} {j}").into_bytes()).collect();
            s.tlog_append(&batch).await.unwrap();
        }
    };
    join_all(vec![Box::pin(work(a.clone(), "a")), Box::pin(work(b.clone(), "b"))]).await;
    let size = a.tlog_size().await.unwrap();
    assert_eq!(size, 120);
    let entries = a.tlog_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len(), 120);
    let mut mem = MemoryTree::new();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.index, i as u64, "no gap");
        assert_eq!(e.leaf_hash, hash::leaf_hash(&e.data).to_vec());
        mem.append(&e.data);
    }
    assert_eq!(b.tlog_root(size).await.unwrap(), mem.root_at(size).unwrap());
    assert_eq!(
        a.tlog_root(size).await.unwrap(),
        hash::root_from_entries(&entries.iter().map(|e| &e.data).collect::<Vec<_>>())
    );
}

async fn tlog_tables_are_append_only(db: &TestDb) {
    let s = db.store().await;
    s.tlog_append(&[entry(0), entry(1)]).await.unwrap();
    let root = s.tlog_root(2).await.unwrap();
    assert!(s.tlog_add_checkpoint(2, &root, "note\n", UnixTime::from_secs(1)).await.unwrap());
    for stmt in [
        "UPDATE tlog_entries SET data = data || data",
        "DELETE FROM tlog_entries",
        "UPDATE tlog_hashes SET idx = idx + 10",
        "DELETE FROM tlog_hashes",
        "UPDATE tlog_checkpoints SET note = 'x'",
        "DELETE FROM tlog_checkpoints",
    ] {
        let r = with_pool!(s, |pool| sqlx::query(stmt).execute(pool).await.map(|_| ()));
        assert!(r.is_err(), "{stmt} must be refused");
    }
    if matches!(s.kind(), crate::BackendKind::Postgres) {
        for t in ["tlog_entries", "tlog_hashes", "tlog_checkpoints"] {
            let r = with_pool!(s, |pool| sqlx::query(&format!("TRUNCATE {t}")).execute(pool).await.map(|_| ()));
            assert!(r.is_err(), "TRUNCATE {t} must be refused");
        }
    }
    assert_eq!(s.tlog_size().await.unwrap(), 2);
    assert_eq!(s.tlog_root(2).await.unwrap(), root);
}

async fn tlog_fork_checkpoint_refused(db: &TestDb) {
    let s = db.store().await;
    s.tlog_append(&[entry(0), entry(1), entry(2)]).await.unwrap();
    let root = s.tlog_root(3).await.unwrap();
    let at = UnixTime::from_secs(10);
    assert!(s.tlog_add_checkpoint(3, &root, "n1\n", at).await.unwrap());
    // The same checkpoint again (another instance): accepted, not stored twice.
    assert!(!s.tlog_add_checkpoint(3, &root, "n1\n", at).await.unwrap());
    let mut other = root;
    other[0] ^= 1;
    assert!(matches!(s.tlog_add_checkpoint(3, &other, "n2\n", at).await, Err(StoreError::Fork { size: 3 })));
    // A root that is not the log's, for a new size, is refused too.
    assert!(matches!(s.tlog_add_checkpoint(2, &other, "n3\n", at).await, Err(StoreError::Fork { size: 2 })));
    // And a size the log does not have yet.
    assert!(s.tlog_add_checkpoint(4, &root, "n4\n", at).await.is_err());
    let latest = s.tlog_latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((latest.size, latest.root, latest.note.as_str()), (3, root.to_vec(), "n1\n"));
    assert_eq!(s.tlog_checkpoints(None, 10).await.unwrap().len(), 1);
}

async fn tlog_audit_record_appends_entry(db: &TestDb) {
    let s = db.store().await;
    let ev = AuditEvent::new(AuditEventKind::KeyRotate, UnixTime::from_secs(5), "operator:1")
        .subject("kid-1")
        .request(Some("192.0.2.1".parse().unwrap()), Some("curl/8".into()))
        .details(serde_json::json!({"alg": "EdDSA"}));
    s.record(&ev).await.unwrap();
    s.record(&AuditEvent::new(AuditEventKind::KeyGenerate, UnixTime::from_secs(6), "system")).await.unwrap();
    assert_eq!(s.tlog_size().await.unwrap(), 2);
    let key = idseal_tlog::entry::PseudonymKey::new(&[7; 32]).unwrap();
    let e = s.tlog_entry(0).await.unwrap().unwrap();
    assert_eq!(e.data, idseal_tlog::entry::encode(&ev, &key).unwrap());
    assert_eq!(e.kind.as_deref(), Some("KEY_ROTATE"));
    assert_eq!(e.at, Some(5));
    assert_eq!(e.subject_pseudonym, Some(s.audit_subject_pseudonym("kid-1").unwrap()));
    // The subject is only in the audit_events row, never in clear in the entry.
    assert!(!e.data.windows(5).any(|w| w == b"kid-1"));
    assert_eq!(s.audit_events(None, 10).await.unwrap().len(), 2);
    // Without the key, nothing is recorded (neither the row nor the entry).
    let bare = crate::Store::connect(&db.url, &crate::ConnectOptions::default()).await.unwrap();
    assert!(matches!(bare.record(&ev).await, Err(StoreError::NoPseudonymKey)));
    assert_eq!(s.audit_events(None, 10).await.unwrap().len(), 2);
}

async fn tlog_subject_tiles_and_audit_query(db: &TestDb) {
    let s = db.store().await;
    for (i, subject) in ["a", "b", "a", "c", "a"].iter().enumerate() {
        let at = UnixTime::from_secs(10 * i as i64);
        let kind = if i % 2 == 0 { AuditEventKind::KeyRotate } else { AuditEventKind::KeyGenerate };
        s.record(&AuditEvent::new(kind, at, "system").subject(*subject)).await.unwrap();
    }
    let a = s.audit_subject_pseudonym("a").unwrap();
    let idx = |v: Vec<crate::StoredEntry>| v.into_iter().map(|e| e.index).collect::<Vec<_>>();
    assert_eq!(idx(s.tlog_entries_by_subject(&a, 0, 5, 10).await.unwrap()), vec![0, 2, 4]);
    assert_eq!(idx(s.tlog_entries_by_subject(&a, 1, 4, 10).await.unwrap()), vec![2]);
    assert_eq!(idx(s.tlog_entries_by_subject(&a, 0, 5, 2).await.unwrap()), vec![0, 2]);
    // Tile hashes: level 0 is the leaf hashes; a range past the stored hashes is an error.
    let leaves = s.tlog_tile_hashes(0, 0, 5).await.unwrap();
    for (i, h) in leaves.iter().enumerate() {
        assert_eq!(h.as_slice(), s.tlog_entry(i as u64).await.unwrap().unwrap().leaf_hash.as_slice());
    }
    assert_eq!(s.tlog_tile_hashes(1, 0, 2).await.unwrap().len(), 2);
    assert!(s.tlog_tile_hashes(0, 0, 6).await.is_err());
    assert!(s.tlog_tile_hashes(2, 0, 2).await.is_err());
    // The auditor query.
    let q = |f: fn(&mut crate::AuditQuery)| {
        let mut q = crate::AuditQuery { limit: 100, ..Default::default() };
        f(&mut q);
        q
    };
    let ids = |rows: Vec<crate::AuditRow>| rows.into_iter().map(|r| r.at.as_secs()).collect::<Vec<_>>();
    assert_eq!(ids(s.audit_query(&q(|_| {})).await.unwrap()), vec![0, 10, 20, 30, 40]);
    assert_eq!(ids(s.audit_query(&q(|q| q.kind = Some("KEY_GENERATE".into()))).await.unwrap()), vec![10, 30]);
    assert_eq!(ids(s.audit_query(&q(|q| q.subject = Some("a".into()))).await.unwrap()), vec![0, 20, 40]);
    let window = q(|q| {
        q.since = Some(10);
        q.until = Some(30);
    });
    assert_eq!(ids(s.audit_query(&window).await.unwrap()), vec![10, 20, 30]);
    let first = s.audit_query(&q(|q| q.limit = 2)).await.unwrap();
    assert_eq!(first.len(), 2);
    let mut next = q(|q| q.limit = 2);
    next.after_id = first.last().map(|r| r.id);
    assert_eq!(ids(s.audit_query(&next).await.unwrap()), vec![20, 30]);
}

async fn tlog_audit_group_commit(db: &TestDb) {
    // 200 concurrent records: 50 tasks on each of two instances, two events per task each.
    let a = db.store().await;
    let b = db.store().await;
    a.tlog_append(&[entry(0)]).await.unwrap();
    let before = a.tlog_size().await.unwrap();
    let event = |tag: &str, t: usize, i: usize| {
        AuditEvent::new(AuditEventKind::KeyGenerate, UnixTime::from_secs((t * 10 + i) as i64), format!("{tag}-{t}-{i}"))
            .subject(format!("subject-{t}"))
    };
    let mut tasks = Vec::new();
    for (tag, s) in [("a", &a), ("b", &b)] {
        for t in 0..50 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..2 {
                    s.record(&event(tag, t, i)).await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let size = a.tlog_size().await.unwrap();
    assert_eq!(size, before + 200);
    let entries = a.tlog_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len() as u64, size);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.index, i as u64, "no gap");
        assert_eq!(e.leaf_hash, hash::leaf_hash(&e.data).to_vec());
    }
    assert_eq!(
        b.tlog_root(size).await.unwrap(),
        hash::root_from_entries(&entries.iter().map(|e| &e.data).collect::<Vec<_>>())
    );
    // Every audit row has its entry, and every new entry its row.
    let key = idseal_tlog::entry::PseudonymKey::new(&[7; 32]).unwrap();
    let rows = a.audit_events(None, 1000).await.unwrap();
    assert_eq!(rows.len(), 200);
    let data: std::collections::HashSet<&Vec<u8>> = entries.iter().skip(1).map(|e| &e.data).collect();
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        let (tag, rest) = r.actor.split_once('-').unwrap();
        let (t, i) = rest.split_once('-').unwrap();
        let ev = event(tag, t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(r.at, ev.at);
        let enc = idseal_tlog::entry::encode(&ev, &key).unwrap();
        assert!(data.contains(&enc), "entry of {}", r.actor);
        assert!(seen.insert(enc));
    }
    // Batching happened: fewer transactions than events.
    let batches = a.tlog_batches_committed() + b.tlog_batches_committed();
    eprintln!("group commit: {batches} batches for 200 events");
    assert!((2..200).contains(&batches), "{batches} batches for 200 events");
}

async fn tlog_audit_group_commit_failure(db: &TestDb) {
    // SQLite only: another connection holds the write lock past the busy timeout, so the batch
    // fails and every caller in it gets the error; nothing is recorded.
    let s = db.store().await;
    if s.kind() != crate::BackendKind::Sqlite {
        return;
    }
    let opts = crate::ConnectOptions { acquire_timeout: std::time::Duration::from_millis(300), ..Default::default() };
    let short = crate::Store::connect(&db.url, &opts).await.unwrap().with_audit_pseudonym_key(&[7; 32]).unwrap();
    let lock = crate::testing::WriteLock::take(&db.url).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..10 {
        let s = short.clone();
        tasks.push(tokio::spawn(async move {
            s.record(&AuditEvent::new(AuditEventKind::KeyGenerate, UnixTime::from_secs(t), "system")).await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(StoreError::BatchFailed(_))));
    }
    lock.release().await.unwrap();
    assert_eq!(s.tlog_size().await.unwrap(), 0);
    assert!(s.audit_events(None, 10).await.unwrap().is_empty());
    short.record(&AuditEvent::new(AuditEventKind::KeyGenerate, UnixTime::from_secs(1), "system")).await.unwrap();
    assert_eq!(s.tlog_size().await.unwrap(), 1);
}
