//! Two server instances on one PostgreSQL database (no sticky sessions): the browser's socket
//! on one, the phone's calls on the other; events cross through LISTEN/NOTIFY, and attempt
//! counting and single use hold across instances.

use axum::http::StatusCode;
use serde_json::json;

use crate::passwordless::{channel, connect, next};
use crate::passwordless_support::{Pl, approve, chain, configure, serve};
use crate::support::{Backend, T0, TestDb, post, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions_and_events() {
    run(Backend::Postgres, |db| async move { two_instances(&db).await }).await;
}

async fn two_instances(db: &TestDb) {
    let (listener_a, base_a, demo, dir) = chain().await;
    let path = dir.path().to_path_buf();
    let a = db.server(|c| configure(c, &base_a, &path)).await;
    let task_a = serve(&a, listener_a);
    let a = Pl { s: a, demo, base: base_a.clone(), _lists: dir, task: task_a };
    // Instance B: same database and master key, its own port, the same published lists.
    let listener_b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_b = format!("http://{}", listener_b.local_addr().unwrap());
    let b = db.server(|c| configure(c, &base_a, &path)).await;
    let task_b = serve(&b, listener_b);
    let ws_b = base_b.replacen("http://", "ws://", 1);

    let (svc, _) = a.service("bar-le-central", &["identity:name", "identity:age_over_18"]).await;
    let phone = a.phone(2).await;
    // The phone's channel on B hears a login started on A.
    let mut device = channel(&ws_b, &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut device).await.unwrap()["type"], "ready");
    let started = a.initiate(&phone, &svc, &["identity:name"]).await;
    let sid = started["sessionId"].as_str().unwrap();
    let otp = started["autoPassword"].as_str().unwrap();
    let push = next(&mut device).await.unwrap();
    assert_eq!((push["sessionId"].as_str(), push["autoPassword"].as_str()), (Some(sid), Some(otp)));

    // The browser's socket on A; a second socket for the same session on B replaces it.
    let mut browser_a =
        connect(&a.ws(&format!("/ws/session/{sid}?token={}", started["wsToken"].as_str().unwrap()))).await;
    assert_eq!(next(&mut browser_a).await.unwrap()["type"], "otp_ready");
    let mut browser_b =
        connect(&format!("{ws_b}/ws/session/{sid}?token={}", started["wsToken"].as_str().unwrap())).await;
    assert_eq!(next(&mut browser_b).await.unwrap()["type"], "otp_ready");
    assert_eq!(next(&mut browser_a).await, Err(4009));

    // Two wrong answers, one on each instance, then the right one on B: the socket hears it.
    let wrong = if otp == "000000" { "000001" } else { "000000" };
    let bad = approve(&phone, &phone.key, sid, wrong, T0, &["identity:name"]).to_string();
    assert_eq!(post("/auth/verify").json(&bad).send(&a.s.app).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(post("/auth/verify").json(&bad).send(&b.app).await.status, StatusCode::UNAUTHORIZED);
    let good = approve(&phone, &phone.key, sid, otp, T0, &["identity:name"]).to_string();
    let r = post("/auth/verify").json(&good).send(&b.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ev = next(&mut browser_b).await.unwrap();
    assert_eq!(ev["type"], "approved");
    assert_eq!(ev["jwt"], r.json()["jwt"]);
    // Single use across instances.
    assert_eq!(post("/auth/verify").json(&good).send(&a.s.app).await.status, StatusCode::NOT_FOUND);

    // The fourth attempt is refused even when the attempts race on both instances.
    let started = a.initiate(&phone, &svc, &["identity:name"]).await;
    let sid = started["sessionId"].as_str().unwrap().to_owned();
    let otp = started["autoPassword"].as_str().unwrap();
    let wrong = if otp == "000000" { "000001" } else { "000000" };
    let bad = approve(&phone, &phone.key, &sid, wrong, T0, &["identity:name"]).to_string();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { a.s.app.clone() } else { b.app.clone() };
        let body = bad.clone();
        tasks.push(tokio::spawn(async move { post("/auth/verify").json(&body).send(&app).await.status }));
    }
    let mut checked = 0;
    for t in tasks {
        checked += usize::from(t.await.unwrap() == StatusCode::UNAUTHORIZED);
    }
    assert_eq!(checked, 3);
    let r = post("/auth/verify")
        .json(&approve(&phone, &phone.key, &sid, otp, T0, &["identity:name"]).to_string())
        .send(&b.app)
        .await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

    // Revoked on B: the channel (on B) closes and A refuses new logins.
    let r = post(&format!("/admin/enrollments/{}/revoke", phone.token_id))
        .bearer(a.s.token())
        .json(&json!({"reason": "lost_device"}).to_string())
        .send(&b.app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // (The channel first hears of the second login.)
    assert_eq!(next(&mut device).await.unwrap()["type"], "login_request");
    assert_eq!(next(&mut device).await, Err(4004));
    task_b.abort();
}
