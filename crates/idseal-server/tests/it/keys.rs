//! Key rotation through the admin API: grace period, publication in the JWKS, deactivation
//! when the grace ends, audit rows; and the JWK Set document itself.

use axum::http::StatusCode;
use serde_json::Value;

use crate::support::{CLIENT, T0, TestDb, get, kids, post};

both_backends!(jwks_publishes_every_algorithm, rotation_grace_and_deactivation);

const DAY: i64 = 24 * 3600;

fn key<'a>(list: &'a Value, kid: &str) -> &'a Value {
    list["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap_or_else(|| panic!("{kid} in {list}"))
}

async fn jwks_publishes_every_algorithm(db: &TestDb) {
    let s = db.server(|_| {}).await;
    let r = get("/.well-known/jwks.json").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/jwk-set+json");
    assert_eq!(r.header("cache-control"), "public, max-age=300");
    assert_eq!(r.header("access-control-allow-origin"), "*");
    r.assert_security_headers();
    let set = r.json();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "{set}");
    let by_alg = |alg: &str| keys.iter().find(|k| k["alg"] == alg).unwrap_or_else(|| panic!("{alg} in {set}"));
    let ml = by_alg("ML-DSA-65");
    assert_eq!(ml["kty"], "AKP");
    assert_eq!(ml["use"], "sig");
    // ML-DSA-65 public keys are 1952 bytes: 2603 base64url characters without padding.
    assert_eq!(ml["pub"].as_str().unwrap().len(), 2603);
    assert_eq!((by_alg("EdDSA")["kty"].as_str(), by_alg("EdDSA")["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    assert_eq!((by_alg("ES256")["kty"].as_str(), by_alg("ES256")["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!(by_alg("RS256")["kty"], "RSA");
    for k in keys {
        // Public members only.
        for private in ["d", "p", "q", "dp", "dq", "qi", "priv", "seed"] {
            assert!(k.get(private).is_none(), "JWKS publishes private member `{private}`: {k}");
        }
        assert_eq!(k["use"], "sig");
    }
    // The JWKS matches the server's ring and the admin list.
    let ring: Vec<String> = s.state.key_ring().jwks().keys.iter().map(|k| k.kid.clone()).collect();
    assert_eq!(kids(&set), ring);
    assert_eq!(kids(&s.key_list().await), ring);
    assert_eq!(s.audit_count("KEY_GENERATE").await, 4);
}

async fn rotation_grace_and_deactivation(db: &TestDb) {
    let s = db
        .server(|c| {
            crate::support::eddsa_only(c);
            c.keys.algorithms.push("ML-DSA-65".into());
        })
        .await;
    let token = s.token().to_owned();
    let jwks = s.jwks().await;
    let old = jwks["keys"].as_array().unwrap().iter().find(|k| k["alg"] == "EdDSA").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let ml = jwks["keys"].as_array().unwrap().iter().find(|k| k["alg"] == "ML-DSA-65").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = post("/admin/keys/rotate")
        .bearer(&token)
        .header("user-agent", "rotator/2")
        .json(r#"{"alg":"EdDSA"}"#)
        .send(&s.app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.assert_security_headers();
    assert_eq!(r.header("cache-control"), "no-store");
    let body = r.json();
    let new = body["kid"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(body["alg"], "EdDSA");
    assert_eq!(body["previous_kid"], old.as_str());
    assert_eq!(body["grace_until"], T0 + DAY, "default grace is 24 h");

    // The new key signs at once; the old one is still published (grace).
    assert_eq!(s.state.key_ring().signer(idseal_keys::Algorithm::EdDsa).unwrap().kid(), new);
    let published = kids(&s.jwks().await);
    assert!(published.contains(&old) && published.contains(&new) && published.contains(&ml), "{published:?}");
    assert_eq!(published.len(), 3);
    let list = s.key_list().await;
    assert_eq!(key(&list, &old)["state"], "grace");
    assert_eq!(key(&list, &old)["grace_until"], T0 + DAY);
    assert_eq!(key(&list, &new)["state"], "active");
    assert!(key(&list, &new).get("grace_until").is_none());
    assert_eq!(key(&list, &ml)["state"], "active");

    let rows = s.audit("KEY_ROTATE").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "admin:bootstrap");
    assert_eq!(rows[0].subject.as_deref(), Some(new.as_str()));
    assert_eq!(rows[0].ip.as_deref(), Some(CLIENT));
    assert_eq!(rows[0].user_agent.as_deref(), Some("rotator/2"));
    assert_eq!(rows[0].details["previous_kid"], old.as_str());
    assert_eq!(rows[0].details["grace_hours"], 24);
    assert_eq!(rows[0].details["alg"], "EdDSA");

    // One second before the grace ends: nothing changes.
    s.advance(u64::try_from(DAY - 1).unwrap());
    assert!(s.state.refresh_keys().await.unwrap().is_empty());
    assert!(kids(&s.jwks().await).contains(&old));
    assert_eq!(s.audit_count("KEY_DEACTIVATE").await, 0);

    // At the end of the grace period the old key is deactivated and unpublished.
    s.advance(1);
    assert_eq!(s.state.refresh_keys().await.unwrap(), vec![old.clone()]);
    let published = kids(&s.jwks().await);
    assert!(!published.contains(&old), "{published:?}");
    assert!(published.contains(&new) && published.contains(&ml));
    let list = s.key_list().await;
    assert_eq!(key(&list, &old)["state"], "deactivated");
    let rows = s.audit("KEY_DEACTIVATE").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].subject.as_deref(), Some(old.as_str()));
    assert_eq!(rows[0].actor, "system");
    assert_eq!(rows[0].at.as_secs(), T0 + DAY);
    // A second refresh deactivates nothing more and audits nothing more.
    assert!(s.state.refresh_keys().await.unwrap().is_empty());
    assert_eq!(s.audit_count("KEY_DEACTIVATE").await, 1);
    let metrics = get("/metrics").send(&s.app).await.text();
    assert!(metrics.contains("idseal_published_keys 2"), "{metrics}");

    // An explicit grace period is honoured.
    let r = post("/admin/keys/rotate").bearer(&token).json(r#"{"alg":"ML-DSA-65","grace_hours":1}"#).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["previous_kid"], ml.as_str());
    assert_eq!(body["grace_until"], s.now() + 3600);
    assert_eq!(key(&s.key_list().await, &ml)["grace_until"], s.now() + 3600);
    assert_eq!(s.audit("KEY_ROTATE").await[0].details["grace_hours"], 1);
    s.advance(3600);
    assert_eq!(s.state.refresh_keys().await.unwrap(), vec![ml.clone()]);
    assert!(!kids(&s.jwks().await).contains(&ml));
}
