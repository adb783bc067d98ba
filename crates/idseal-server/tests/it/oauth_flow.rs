//! The OAuth 2.1 / OIDC provider's good paths and the attacks on them: code flow with PKCE,
//! tokens and their signatures, refresh rotation and reuse, revocation, introspection,
//! client credentials, logout, discovery.

use axum::http::StatusCode;
use idseal_keys::{Jwk, VerifyingKey};
use serde_json::{Value, json};

use crate::oauth_support::*;
use crate::support::{TestDb, get, post};

both_backends!(
    code_flow_issues_verifiable_tokens,
    code_replay_revokes_what_it_issued,
    code_errors_are_rfc_errors,
    refresh_rotates_and_reuse_revokes_the_family,
    concurrent_refresh_exactly_one_wins,
    revoke_and_introspect,
    tampered_expired_and_misused_tokens_are_refused,
    client_credentials_grant,
    public_clients_are_rate_limited_per_ip,
    rp_initiated_logout,
    discovery_and_dynamic_registration,
);

fn jwks_keys(v: &Value) -> Vec<VerifyingKey> {
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter_map(|j| VerifyingKey::from_jwk(&j))
        .collect()
}

async fn code_flow_issues_verifiable_tokens(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let code = get_code(&s, &mut b, &c.id, "openid profile email offline_access").await;
    let r = exchange(&s, &c, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "email offline_access openid profile");
    let (at, id, rt) =
        (t["access_token"].as_str().unwrap(), t["id_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    assert!(rt.starts_with("idr_"));

    // Both JWTs verify against the published JWKS; the ID token's pq_sig too.
    let keys = jwks_keys(&get("/.well-known/jwks.json").send(&s.app).await.json());
    let issuer = s.state.settings.issuer.clone();
    let now = idseal_types::UnixTime::from_secs(s.now());
    let atv = idseal_oauth::jwt::verify(at, &keys, Some("at+jwt"), &issuer, now, true).unwrap();
    assert_eq!(atv.claims["client_id"], c.id.as_str());
    assert_eq!(atv.claims["aud"], c.id.as_str());
    let idv = idseal_oauth::jwt::verify(id, &keys, Some("JWT"), &issuer, now, true).unwrap();
    assert_eq!(idv.header["alg"], "EdDSA");
    let ic = &idv.claims;
    assert_eq!(ic["aud"], c.id.as_str());
    assert_eq!(ic["nonce"], "n-456");
    assert_eq!(ic["email"], EMAIL);
    assert_eq!(ic["email_verified"], true);
    assert_eq!(ic["name"], "Alice Example");
    assert_eq!(ic["exp"].as_i64().unwrap() - ic["iat"].as_i64().unwrap(), 3600);
    idseal_oauth::pqsig::verify(ic, &keys).unwrap();
    let mut forged = ic.clone();
    forged.insert("email".into(), json!("mallory@example.org"));
    assert!(idseal_oauth::pqsig::verify(&forged, &keys).is_err(), "pq_sig covers every claim");
    // Pairwise subject: not the account id, stable for this client.
    let account = s.state.store.account_by_email(EMAIL).await.unwrap().unwrap();
    assert_ne!(ic["sub"], account.id.as_str());

    let u = userinfo(&s, at).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text());
    assert_eq!(u.json()["sub"], ic["sub"]);
    assert_eq!(u.json()["email"], EMAIL);

    // Second flow: the session and the remembered consent skip both pages.
    let r = b.get(&s, &authorize_url(&c.id, "openid email", &[])).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    // A scope without `profile` gets no name.
    let t2 = exchange(&s, &c, param(&location_params(&r), "code").unwrap()).await.json();
    let c2 = claims(t2["id_token"].as_str().unwrap());
    assert!(c2.get("name").is_none() && c2.get("email").is_some(), "{c2}");
    assert!(t2.get("refresh_token").is_none(), "no offline_access, no refresh token");

    // Two clients on one session see different `sid`s (and subjects): they cannot join users.
    let c3 = client(&s, json!({"redirect_uris": ["https://other-rp.example/cb"]})).await;
    let mut url = authorize_url(&c3.id, "openid", &[]);
    url = url.replace("rp.example%2Fcb", "other-rp.example%2Fcb");
    let r = b.get(&s, &url).await;
    let r = b.submit(&s, &r, &[("decision", "allow")]).await;
    let code3 = param(&location_params(&r), "code").unwrap().to_owned();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", &code3),
            ("redirect_uri", "https://other-rp.example/cb"),
            ("code_verifier", VERIFIER),
        ])
        .finish();
    let t3 = token_req(&c3, body).send(&s.app).await.json();
    let c3c = claims(t3["id_token"].as_str().unwrap());
    assert!(c3c["sid"].is_string() && c2["sid"].is_string());
    assert_ne!(c3c["sid"], c2["sid"]);
    assert_ne!(c3c["sub"], c2["sub"]);
    for kind in ["LOGIN_SUCCESS", "SESSION_CREATE", "CONSENT_GRANT", "TOKEN_ISSUE"] {
        assert!(s.audit_count(kind).await >= 1, "{kind} audited");
    }
}

async fn code_replay_revokes_what_it_issued(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let code = get_code(&s, &mut b, &c.id, "openid offline_access").await;
    let t = exchange(&s, &c, &code).await.json();
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, at).await.status, StatusCode::OK);
    exchange(&s, &c, &code).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    userinfo(&s, at).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    let rt = t["refresh_token"].as_str().unwrap();
    token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(s.audit_count("CODE_REPLAY").await, 1);
}

async fn code_errors_are_rfc_errors(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    let other = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let code = get_code(&s, &mut b, &c.id, "openid").await;
    fn base(v: &str) -> Vec<(&str, &str)> {
        vec![("grant_type", "authorization_code"), ("redirect_uri", REDIRECT), ("code_verifier", v)]
    }
    // Missing verifier: invalid_request, and the code is still good.
    let mut f = base(VERIFIER);
    f.retain(|(k, _)| *k != "code_verifier");
    f.push(("code", &code));
    token(&s, &c, &f).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // Another client can neither use nor burn it; its own client then can.
    let mut f = base(VERIFIER);
    f.push(("code", &code));
    token(&s, &other, &f).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(token(&s, &c, &f).await.status, StatusCode::OK);
    token(&s, &c, &f).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");

    // Wrong verifier; wrong redirect URI; expired code.
    for case in ["verifier", "redirect", "expired"] {
        let code = get_code(&s, &mut b, &c.id, "openid").await;
        let wrong = "x".repeat(43);
        let mut f = base(if case == "verifier" { &wrong } else { VERIFIER });
        if case == "redirect" {
            f[1] = ("redirect_uri", "https://rp.example/other");
        }
        if case == "expired" {
            s.advance(61);
        }
        f.push(("code", &code));
        token(&s, &c, &f).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    // Client authentication and request shape.
    let bad = TestClient { id: c.id.clone(), secret: Some("ids_wrong".into()) };
    let r = token(&s, &bad, &[("grant_type", "authorization_code"), ("code", "x")]).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(r.header("www-authenticate").starts_with("Basic"));
    token(&s, &c, &[("grant_type", "password")]).await.assert_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    token(&s, &c, &[]).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    token(&s, &c, &[("grant_type", "authorization_code"), ("grant_type", "authorization_code")])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let r = post("/oauth/token").json("{\"grant_type\":\"client_credentials\"}").send(&s.app).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = TestClient { id: "idc_nobody".into(), secret: Some("x".into()) };
    token(&s, &unknown, &[("grant_type", "client_credentials")])
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
}

async fn refresh_rotates_and_reuse_revokes_the_family(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid email offline_access").await).await.json();
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    // Scope escalation is refused; narrowing works.
    token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", &rt1), ("scope", "openid profile")])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    let r = token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", &rt1), ("scope", "openid")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let t2 = r.json();
    assert_eq!(t2["scope"], "openid");
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert!(t2["id_token"].is_string());
    // The new token keeps the original scope.
    let r = token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", &rt2)]).await;
    assert_eq!(r.json()["scope"], "email offline_access openid");
    let rt3 = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let at3 = r.json()["access_token"].as_str().unwrap().to_owned();
    // Reusing rt1: refused, and everything of this client and user is revoked.
    token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", &rt1)])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", &rt3)])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    userinfo(&s, &at3).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(s.audit_count("REFRESH_REUSE").await >= 1);
    // A refresh token of another client is not this client's.
    let other = client(&s, json!({})).await;
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid offline_access").await).await.json();
    let rt = t["refresh_token"].as_str().unwrap();
    token(&s, &other, &[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // ...and that attempt did not revoke it.
    assert_eq!(token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await.status, StatusCode::OK);
    // Expired after 30 days.
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid offline_access").await).await.json();
    s.advance(30 * 86400 + 1);
    token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

async fn concurrent_refresh_exactly_one_wins(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid offline_access").await).await.json();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let s = std::sync::Arc::new(s);
    let c = std::sync::Arc::new(c);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, c, rt) = (s.clone(), c.clone(), rt.clone());
            tokio::spawn(async move {
                token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await.status
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::BAD_REQUEST => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1, "exactly one concurrent refresh wins");
}

async fn revoke_and_introspect(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    let public = client(&s, json!({"token_endpoint_auth_method": "none"})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid offline_access").await).await.json();
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    let intro = |tok: &str| {
        let body = form_urlencoded::Serializer::new(String::new()).append_pair("token", tok).finish();
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", c.id, c.secret.clone().unwrap()),
        );
        post("/oauth/introspect")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &format!("Basic {basic}"))
            .body(body.as_bytes())
    };
    let r = intro(at).send(&s.app).await;
    assert_eq!(r.json()["active"], true, "{}", r.text());
    assert_eq!(r.json()["client_id"], c.id.as_str());
    assert_eq!(intro(rt).send(&s.app).await.json()["active"], true);
    assert_eq!(intro("garbage").send(&s.app).await.json(), json!({"active": false}));
    // Public clients cannot introspect.
    let body = format!("token={at}&client_id={}", public.id);
    post("/oauth/introspect")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.as_bytes())
        .send(&s.app)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // Revoking an unknown token is 200 too; revoking the refresh token ends the grant.
    let rv = |tok: &str| token_like(&c, "/oauth/revoke", tok);
    assert_eq!(rv("unknown").send(&s.app).await.status, StatusCode::OK);
    assert_eq!(rv(rt).send(&s.app).await.status, StatusCode::OK);
    assert_eq!(intro(at).send(&s.app).await.json()["active"], false);
    assert_eq!(intro(rt).send(&s.app).await.json()["active"], false);
    userinfo(&s, at).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(s.audit_count("TOKEN_REVOKE").await, 1);
    // An access token alone.
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid offline_access").await).await.json();
    assert_eq!(rv(t["access_token"].as_str().unwrap()).send(&s.app).await.status, StatusCode::OK);
    userinfo(&s, t["access_token"].as_str().unwrap()).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    let r = token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "the refresh token outlives its revoked access token");
    // Missing token: invalid_request; bad client: invalid_client.
    post("/oauth/revoke")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id={}", public.id).as_bytes())
        .send(&s.app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let bad = TestClient { id: c.id.clone(), secret: Some("nope".into()) };
    token_like(&bad, "/oauth/revoke", "x").send(&s.app).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
}

fn token_req(c: &TestClient, body: String) -> crate::support::Req {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", c.id, c.secret.clone().unwrap()),
    );
    post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &format!("Basic {basic}"))
        .body(body.as_bytes())
}

fn token_like(c: &TestClient, path: &str, tok: &str) -> crate::support::Req {
    let body = form_urlencoded::Serializer::new(String::new()).append_pair("token", tok).finish();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", c.id, c.secret.clone().unwrap()),
    );
    post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &format!("Basic {basic}"))
        .body(body.as_bytes())
}

async fn tampered_expired_and_misused_tokens_are_refused(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid email").await).await.json();
    let at = t["access_token"].as_str().unwrap();
    // Tampered payload.
    let parts: Vec<&str> = at.split('.').collect();
    let mut cl = claims(at);
    cl["scope"] = json!("openid email profile admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cl.to_string()),
        parts[2]
    );
    userinfo(&s, &forged).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    // The ID token is not an access token (typ JWT, not at+jwt).
    userinfo(&s, t["id_token"].as_str().unwrap()).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    userinfo(&s, "not.a.jwt").await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    get("/oauth/userinfo").send(&s.app).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    // Without openid there is no userinfo.
    let t2 = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "email").await).await.json();
    userinfo(&s, t2["access_token"].as_str().unwrap()).await.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    // Expired.
    s.advance(3601);
    userinfo(&s, at).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
}

async fn client_credentials_grant(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({"grant_types": ["client_credentials"], "redirect_uris": []})).await;
    let r = token(&s, &c, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let t = r.json();
    assert!(t.get("id_token").is_none() && t.get("refresh_token").is_none());
    assert_eq!(claims(t["access_token"].as_str().unwrap())["sub"], c.id.as_str());
    token(&s, &c, &[("grant_type", "client_credentials"), ("scope", "openid")])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    // A client without the grant, and a public client.
    let code_client = client(&s, json!({})).await;
    token(&s, &code_client, &[("grant_type", "client_credentials")])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    let r = post("/admin/clients")
        .bearer(s.token())
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}).to_string())
        .send(&s.app)
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata");
}

async fn rp_initiated_logout(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid").await).await.json();
    let id = t["id_token"].as_str().unwrap();
    // An unregistered post-logout URI: a page, no redirect, still signed in.
    let q = |uri: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", id)
            .append_pair("post_logout_redirect_uri", uri)
            .append_pair("state", "bye-1")
            .finish()
    };
    let r = b.get(&s, &format!("/oauth/logout?{}", q("https://evil.example/"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.headers.get("location").is_none());
    // An access token is no ID token hint.
    let at_hint = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", t["access_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", LOGOUT_REDIRECT)
        .finish();
    assert_eq!(b.get(&s, &format!("/oauth/logout?{at_hint}")).await.status, StatusCode::BAD_REQUEST);
    // Without a hint the user must confirm (a third-party page cannot sign them out).
    let r = b.get(&s, "/oauth/logout").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Sign out"));
    assert_eq!(b.get(&s, &authorize_url(&c.id, "openid", &[])).await.status, StatusCode::FOUND, "still signed in");
    // With the hint: signed out and sent back with state.
    let r = b.get(&s, &format!("/oauth/logout?{}", q(LOGOUT_REDIRECT))).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert!(r.header("location").starts_with(LOGOUT_REDIRECT));
    assert_eq!(param(&location_params(&r), "state"), Some("bye-1"));
    let again = b.get(&s, &authorize_url(&c.id, "openid", &[])).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(again.header("location").starts_with("/login"));
    assert_eq!(s.audit_count("LOGOUT").await, 1);
}

async fn discovery_and_dynamic_registration(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let r = get("/.well-known/openid-configuration").send(&s.app).await;
    assert_eq!(r.header("access-control-allow-origin"), "*", "browser clients read discovery");
    let d = r.json();
    let issuer = s.state.settings.issuer.clone();
    // CORS preflight for the token endpoint (public clients in browsers); none for the pages.
    let pre = crate::support::Req::new(axum::http::Method::OPTIONS, "/oauth/token")
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send(&s.app)
        .await;
    assert_eq!(pre.status, StatusCode::NO_CONTENT);
    assert_eq!(pre.header("access-control-allow-origin"), "*");
    assert!(pre.headers.get("access-control-allow-credentials").is_none());
    assert!(
        get("/login")
            .header("origin", "https://spa.example")
            .send(&s.app)
            .await
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(d["issuer"], issuer.as_str());
    assert_eq!(d["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(d.get("registration_endpoint").is_none());
    let reg = json!({"redirect_uris": ["https://dyn.example/cb"], "client_name": "Dyn", "id_token_signed_response_alg": "EdDSA"})
        .to_string();
    post("/oauth/register").json(&reg).send(&s.app).await.assert_error(StatusCode::NOT_FOUND, "not_found");

    let s = provider(db, |c| c.oauth.dynamic_registration = true).await;
    let d = get("/.well-known/openid-configuration").send(&s.app).await.json();
    assert!(d["registration_endpoint"].as_str().unwrap().ends_with("/oauth/register"));
    let r = post("/oauth/register").json(&reg).send(&s.app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // RS256 (the default) is not enabled on this test server: refused, not stored.
    let rs = json!({"redirect_uris": ["https://dyn.example/cb"]}).to_string();
    post("/oauth/register")
        .json(&rs)
        .send(&s.app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata");
    assert!(r.json()["client_secret"].as_str().unwrap().starts_with("ids_"));
    for bad in [
        json!({"redirect_uris": ["http://dyn.example/cb"]}),
        json!({"redirect_uris": ["https://dyn.example/cb#frag"]}),
        json!({"redirect_uris": []}),
    ] {
        post("/oauth/register")
            .json(&bad.to_string())
            .send(&s.app)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    }
    let r = post("/oauth/register")
        .json(&json!({"redirect_uris": ["https://x.example/cb"], "response_types": ["token"]}).to_string())
        .send(&s.app)
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata");
    assert!(s.audit_count("CLIENT_REGISTER").await >= 1);
}

/// A public client authenticates with its id alone: its token budget is per client and IP, so
/// one caller cannot spend it for every user of the app.
async fn public_clients_are_rate_limited_per_ip(db: &TestDb) {
    let s = provider(db, |c| {
        let mut p = crate::support::admin_policy("3/1m", &[]);
        p.routes.clear();
        p.key = idseal_ratelimit::KeyKind::Client;
        c.rate_limits.insert("token".into(), p);
    })
    .await;
    let c = client(&s, json!({"token_endpoint_auth_method": "none"})).await;
    let req = |ip: &str| {
        post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=refresh_token&refresh_token=x&client_id={}", c.id).as_bytes())
            .from(ip)
    };
    for _ in 0..3 {
        req("198.51.100.9").send(&s.app).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    req("198.51.100.9").send(&s.app).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    req("203.0.113.50").send(&s.app).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}
