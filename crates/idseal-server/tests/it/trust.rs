//! Trust lists over HTTP: the server publishes signed lists at `/trust/<file>` (ETag, 304),
//! and its cache fetches them from there, verifies a seal through the chain, picks up a new
//! VRL after the TTL, refuses a sequence rollback and fails closed past NextUpdate.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use idseal_testkit::trust::TrustDemo;
use idseal_trust::describe::RevokedDescription;
use idseal_trust::lists::format_datetime;
use idseal_trust::{BuiltLists, TrustError};
use idseal_types::UnixTime;

use crate::support::{T0, TestDb, get};

both_backends!(published_lists_are_fetched_cached_and_checked);

fn publish(dir: &std::path::Path, lists: &BuiltLists) {
    for doc in &lists.documents {
        let name = doc.location.rsplit('/').next().unwrap();
        std::fs::write(dir.join(name), &doc.xml).unwrap();
    }
}

fn refused(s: &crate::support::Server, reason: &str) -> bool {
    s.state.metrics.render().lines().any(|l| {
        l.starts_with("idseal_trust_list_refused_total")
            && l.contains(&format!("reason=\"{reason}\""))
            && !l.ends_with(" 0")
    })
}

async fn published_lists_are_fetched_cached_and_checked(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/trust", listener.local_addr().unwrap());
    let now = UnixTime::from_secs(T0);
    let demo = TrustDemo::new(&base, now, Duration::from_secs(86_400));
    publish(dir.path(), &demo.build_with(&demo.description, now.saturating_sub(Duration::from_secs(3600))));
    let publish_dir = dir.path().to_path_buf();
    let s = db
        .server(|c| {
            crate::support::eddsa_only(c);
            c.trust.publish_dir = Some(publish_dir);
            c.trust.cache_ttl_secs = 60;
        })
        .await;
    let app = s.app.clone().into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // Publishing: the file, its ETag, 304 on a match, nothing outside the directory.
    let r = get("/trust/governance.xml").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/xml");
    let etag = r.header("etag").to_owned();
    let r = get("/trust/governance.xml").header("if-none-match", &etag).send(&s.app).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    for bad in ["/trust/..%2Fmaster.key", "/trust/nope.xml", "/trust/.hidden.xml", "/trust/governance.txt"] {
        assert_eq!(get(bad).send(&s.app).await.status, StatusCode::NOT_FOUND, "{bad}");
    }

    // The cache fetches every list over HTTP and the seal verifies.
    let anchors = demo.anchors();
    let verify = |at: UnixTime| {
        let (st, anchors, vds) = (s.state.clone(), anchors.clone(), demo.vds.clone());
        async move { st.trust.verify_vds(&anchors, &vds, at, &st.metrics, &st.store).await }
    };
    let report = verify(now).await.unwrap();
    assert_eq!(report.steps.len(), 8);

    // The VDS is revoked in a new VRL: seen once the cached copy is older than the TTL.
    let mut revoked = demo.description.clone();
    revoked.schemes[0].vrl.sequence_number = 2;
    revoked.schemes[0].revoked = vec![RevokedDescription {
        fingerprint: demo.fingerprint(),
        revoked_at: format_datetime(now),
        reason: "lost".into(),
    }];
    let second = demo.build_with(&revoked, now);
    publish(dir.path(), &second);
    assert!(verify(now.saturating_add(Duration::from_secs(30))).await.is_ok(), "cached for the TTL");
    let later = now.saturating_add(Duration::from_secs(61));
    assert!(matches!(verify(later).await, Err(TrustError::Revoked { .. })), "{:?}", verify(later).await);

    // Rolling the VRL back to sequence 1 is refused (and counted).
    publish(dir.path(), &demo.build_with(&demo.description, now));
    let much_later = now.saturating_add(Duration::from_secs(200));
    assert!(
        matches!(verify(much_later).await, Err(TrustError::SequenceRollback { .. })),
        "{:?}",
        verify(much_later).await
    );
    assert!(refused(&s, "rollback"));
    // The highest sequence number is in the database: a fresh cache (a restarted instance)
    // refuses the rolled-back VRL too.
    let fresh = idseal_server::trust_cache::TrustCache::new(Duration::from_secs(60), Duration::from_secs(5)).unwrap();
    let r = fresh.verify_vds(&anchors, &demo.vds, much_later, &s.state.metrics, &s.state.store).await;
    assert!(matches!(r, Err(TrustError::SequenceRollback { previous: 2, new: 1 })), "{r:?}");

    // Past NextUpdate every cached list fails closed.
    let expired = now.saturating_add(Duration::from_secs(2 * 86_400));
    assert!(matches!(verify(expired).await, Err(TrustError::ListExpired { .. })), "{:?}", verify(expired).await);
    assert!(refused(&s, "expired"));
    server.abort();
}
