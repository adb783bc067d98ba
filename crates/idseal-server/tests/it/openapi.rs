//! The OpenAPI description: the committed `docs/openapi.json` is the generated one, and the
//! document and the router agree on every path and method.
//!
//! To regenerate the committed file: `IDSEAL_UPDATE_OPENAPI=1 cargo test -p idseal-server --test it openapi`.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Req, TestDb};

both_backends!(router_serves_exactly_the_documented_operations);

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

/// Every route of `idseal_server::router` with its methods.
/// The SCAL3 routes (the `scal3` feature).
#[cfg(feature = "scal3")]
const SCAL3_ROUTES: &[(&str, &[&str])] = &[
    ("/scal3/provider-key", &["get"]),
    ("/scal3/enrol", &["post"]),
    ("/scal3/challenge", &["post"]),
    ("/scal3/prove", &["post"]),
];

const ROUTES: &[(&str, &[&str])] = &[
    ("/health", &["get"]),
    ("/metrics", &["get"]),
    ("/.well-known/jwks.json", &["get"]),
    ("/openapi.json", &["get"]),
    ("/admin/keys", &["get"]),
    ("/admin/keys/rotate", &["post"]),
    ("/log/checkpoint", &["get"]),
    ("/log/verifier-key", &["get"]),
    ("/log/tile/{path}", &["get"]),
    ("/log/entries/{index}", &["get"]),
    ("/log/proof/inclusion", &["get"]),
    ("/log/proof/consistency", &["get"]),
    ("/admin/log/checkpoint", &["post"]),
    ("/admin/audit", &["get"]),
    ("/admin/audit/export", &["get"]),
    ("/admin/clients", &["get", "post"]),
    ("/admin/clients/{id}", &["get", "delete"]),
    ("/.well-known/openid-configuration", &["get"]),
    ("/oauth/authorize", &["get", "post"]),
    ("/oauth/authorize/decision", &["post"]),
    ("/oauth/token", &["post"]),
    ("/oauth/userinfo", &["get", "post"]),
    ("/oauth/revoke", &["post"]),
    ("/oauth/introspect", &["post"]),
    ("/oauth/logout", &["get", "post"]),
    ("/oauth/register", &["post"]),
    ("/login", &["get", "post"]),
    ("/register", &["get", "post"]),
    ("/account", &["get"]),
    ("/account/verify", &["get"]),
    ("/account/forgot", &["get", "post"]),
    ("/account/reset", &["get", "post"]),
    ("/account/sessions", &["get"]),
    ("/account/audit", &["get"]),
    ("/account/sessions/{id}/revoke", &["post"]),
    ("/account/consents/{client_id}/revoke", &["post"]),
    ("/account/password", &["post"]),
    ("/account/logout", &["post"]),
    ("/trust/{file}", &["get"]),
    ("/enroll", &["post"]),
    ("/enroll/revoke", &["post"]),
    ("/auth/initiate", &["post"]),
    ("/auth/verify", &["post"]),
    ("/ws/session/{session_id}", &["get"]),
    ("/ws/device/{token_id}", &["get"]),
    ("/login/phone", &["post"]),
    ("/login/phone/wait", &["get"]),
    ("/admin/services", &["get", "post"]),
    ("/admin/services/{id}", &["delete"]),
    ("/admin/enrollments", &["get"]),
    ("/admin/enrollments/{token_id}", &["get"]),
    ("/admin/enrollments/{token_id}/revoke", &["post"]),
    ("/admin/sessions", &["get"]),
    ("/admin/sessions/live", &["get"]),
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn document() -> Value {
    serde_json::from_str(&idseal_server::openapi::document_json()).expect("the document is JSON")
}

#[test]
fn committed_document_is_current() {
    let generated = idseal_server::openapi::document_json();
    assert_eq!(generated, idseal_server::openapi::document_json(), "generation is deterministic");
    let path = std::path::Path::new(COMMITTED);
    if std::env::var("IDSEAL_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &generated).unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with IDSEAL_UPDATE_OPENAPI=1 cargo test -p idseal-server --test it openapi",
            path.display()
        )
    });
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or_else(
            || format!("lengths differ ({} vs {} lines)", committed.lines().count(), generated.lines().count()),
            |i| format!("first difference at line {}", i + 1),
        );
        panic!(
            "docs/openapi.json is out of date ({line}); regenerate it with \
             IDSEAL_UPDATE_OPENAPI=1 cargo test -p idseal-server --test it openapi"
        );
    }
}

#[test]
fn document_describes_every_route() {
    let doc = document();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "openapi = {}", doc["openapi"]);
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["info"]["title"], "idseal");
    let paths = doc["paths"].as_object().expect("paths");
    #[cfg(feature = "scal3")]
    let routes: Vec<&(&str, &[&str])> = ROUTES.iter().chain(SCAL3_ROUTES).collect();
    #[cfg(not(feature = "scal3"))]
    let routes: Vec<&(&str, &[&str])> = ROUTES.iter().collect();
    for (route, methods) in routes.iter().copied() {
        let item = paths.get(*route).unwrap_or_else(|| panic!("{route} is not documented"));
        for m in METHODS {
            assert_eq!(item.get(*m).is_some(), methods.contains(m), "{m} {route}: documented vs routed");
        }
    }
    let documented: Vec<&String> = paths.keys().collect();
    assert_eq!(documented.len(), routes.len(), "documented paths that are not routed: {documented:?}");

    // Admin operations require the bearer scheme, which the document defines.
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for (route, m) in [("/admin/keys", "get"), ("/admin/keys/rotate", "post")] {
        let op = &paths[route][m];
        assert!(op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())), "{route}");
        assert!(op["responses"].get("401").is_some(), "{route} documents 401");
        assert!(op["responses"].get("429").is_some(), "{route} documents 429");
    }
    for code in ["200", "400", "401", "413", "415", "429"] {
        assert!(paths["/admin/keys/rotate"]["post"]["responses"].get(code).is_some(), "rotate documents {code}");
    }
    let body = &paths["/admin/keys/rotate"]["post"]["requestBody"]["content"]["application/json"];
    assert!(body.is_object(), "rotate documents its JSON body");
    let jwks = &paths["/.well-known/jwks.json"]["get"]["responses"]["200"]["content"];
    assert!(jwks.get("application/jwk-set+json").is_some(), "{jwks}");
    assert!(doc["components"]["schemas"].get("ErrorBody").is_some());
}

/// Every documented operation is routed (not 404 or 405) and every undocumented method of a
/// documented path is refused with 405.
async fn router_serves_exactly_the_documented_operations(db: &TestDb) {
    let s = db
        .server(|c| {
            crate::support::eddsa_only(c);
            // The probe calls every admin operation with every method: more than 60 a minute.
            c.rate_limits.insert("admin".into(), crate::support::admin_policy("1000/1m", &[]));
        })
        .await;
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = Req::new(method, path).bearer(s.token()).json("{}").send(&s.app).await;
            if let Some(op) = item.get(*m) {
                // A documented 404 (an unknown `{id}`) is the handler's answer, not the router's.
                let not_found_ok = r.status == StatusCode::NOT_FOUND && op["responses"].get("404").is_some();
                assert!(
                    not_found_ok || (r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED),
                    "documented {m} {path} answered {}",
                    r.status
                );
            } else {
                assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "undocumented {m} {path}");
            }
        }
    }
    assert_eq!(s.audit_count("KEY_ROTATE").await, 0, "the probe's empty body rotates nothing");
}
