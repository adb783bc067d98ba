//! Accounts and browser sessions: registration and verification by mail (a local SMTP sink),
//! password reset, CSRF, lockouts across restarts and paths, sessions, consent, and the
//! authorization endpoint's refusals.

use std::time::Duration;

use axum::http::StatusCode;
use idseal_testkit::SmtpSink;
use serde_json::json;

use crate::oauth_support::*;
use crate::support::{Server, TestDb, get};

both_backends!(
    register_verify_and_sign_in_by_mail,
    password_reset_revokes_sessions_and_grants,
    csrf_and_open_redirects_are_refused,
    lockout_holds_across_restart_and_every_password_path,
    sessions_are_listed_and_revocable,
    consent_is_remembered_and_revocable,
    authorization_requests_are_checked,
    users_export_their_own_audit_record,
);

async fn with_mail(db: &TestDb, sink: &SmtpSink) -> Server {
    let url = sink.url();
    provider(db, |c| {
        c.mail.smtp_url = Some(url);
        c.mail.from = "idseal <no-reply@idseal.test>".into();
    })
    .await
}

fn mail_to<'a>(
    mails: &'a [idseal_testkit::ReceivedMail],
    to: &str,
    subject: &str,
) -> Option<&'a idseal_testkit::ReceivedMail> {
    mails
        .iter()
        .find(|m| m.to.iter().any(|t| t.contains(to)) && m.header("subject").is_some_and(|s| s.contains(subject)))
}

async fn register_verify_and_sign_in_by_mail(db: &TestDb) {
    let sink = SmtpSink::start().unwrap();
    let s = with_mail(db, &sink).await;
    let mut b = Browser::default();
    let page = b.get(&s, "/register").await;
    assert_eq!(page.status, StatusCode::OK);
    // Weak password and bad email: the form again, nothing stored.
    let r = b.submit(&s, &page, &[("email", "bob@example.org"), ("password", "short")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = b.submit(&s, &page, &[("email", "not-an-email"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(s.state.store.account_by_email("bob@example.org").await.unwrap().is_none());

    let r = b.submit(&s, &page, &[("email", " Bob@Example.org "), ("password", PASSWORD), ("name", "Bob")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.text().contains("Check your email"));
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    let m = mail_to(&mails, "bob@example.org", "Confirm").expect("verification mail");
    assert_eq!(m.header("from").unwrap(), "idseal <no-reply@idseal.test>");
    let link = m.find_link(&format!("{}/account/verify?token=", s.state.settings.issuer)).expect("link");
    let path = &link[s.state.settings.issuer.len()..];

    // Unverified: the right password is not enough, and a new link is sent.
    let login = b.get(&s, "/login").await;
    let r = b.submit(&s, &login, &[("email", "bob@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(sink.wait_for(2, Duration::from_secs(10)).await.len(), 2);

    let r = b.get(&s, path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(b.get(&s, path).await.status, StatusCode::BAD_REQUEST, "single use");
    assert_eq!(b.get(&s, "/account/verify?token=forged").await.status, StatusCode::BAD_REQUEST);
    let r = b.submit(&s, &login, &[("email", "bob@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), "/account");
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-idseal_session="));
    let cookie = cookie.expect("session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(b.get(&s, "/account").await.text().contains("bob@example.org"));

    // Registering the same address again: the same answer, a notice to the owner, one account.
    let mut other = Browser::default();
    let page = other.get(&s, "/register").await;
    let r = other.submit(&s, &page, &[("email", "bob@example.org"), ("password", "another password 1")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Check your email"));
    let mails = sink.wait_for(3, Duration::from_secs(10)).await;
    assert!(mail_to(&mails, "bob@example.org", "already have an account").is_some());
    assert_eq!(s.audit_count("ACCOUNT_REGISTER").await, 1);
    assert_eq!(s.audit_count("EMAIL_VERIFY").await, 1);
    // No token or password ever reaches the audit log.
    for row in s.state.store.audit_events(None, 10_000).await.unwrap() {
        let text = format!("{row:?}");
        assert!(!text.contains(PASSWORD) && !text.contains("bob@example.org"), "{text}");
    }
}

async fn password_reset_revokes_sessions_and_grants(db: &TestDb) {
    let sink = SmtpSink::start().unwrap();
    let s = with_mail(db, &sink).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut a = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut a, &c.id, "openid offline_access").await).await.json();
    assert!(a.get(&s, "/account").await.text().contains(EMAIL));

    let mut b = Browser::default();
    let page = b.get(&s, "/account/forgot").await;
    let r = b.submit(&s, &page, &[("email", "nobody@example.org")]).await;
    let unknown_answer = r.text();
    let r = b.submit(&s, &page, &[("email", EMAIL)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), unknown_answer, "the answer does not say whether the address is known");
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "no mail for an unknown address");
    let link = mails[0].find_link(&format!("{}/account/reset?token=", s.state.settings.issuer)).expect("reset link");
    let path = link[s.state.settings.issuer.len()..].to_owned();

    let form = b.get(&s, &path).await;
    let r = b.submit(&s, &form, &[("password", "short")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = b.submit(&s, &form, &[("password", "a brand new password")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = b.submit(&s, &form, &[("password", "yet another password")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "the link is single-use");

    // Every session and every grant is gone.
    let r = a.get(&s, "/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.header("location").starts_with("/login"));
    token(&s, &c, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    userinfo(&s, t["access_token"].as_str().unwrap()).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    // Old password out, new one in.
    let login = b.get(&s, "/login").await;
    assert_eq!(
        b.submit(&s, &login, &[("email", EMAIL), ("password", PASSWORD)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        b.submit(&s, &login, &[("email", EMAIL), ("password", "a brand new password")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(s.audit_count("PASSWORD_RESET").await, 1);
    assert_eq!(s.audit_count("PASSWORD_RESET_REQUEST").await, 1);
}

async fn csrf_and_open_redirects_are_refused(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut a = Browser::default();
    let page = a.get(&s, "/login").await;
    // No token; a token from another browser.
    let r = a.post_form(&s, "/login", &[("email".into(), EMAIL.into()), ("password".into(), PASSWORD.into())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut mallory = Browser::default();
    let r = mallory.submit(&s, &page, &[("email", EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a CSRF token is bound to its browser");
    assert!(!mallory.has_cookie("__Host-idseal_session"));
    // return_to may only lead back into the provider.
    for evil in ["https://evil.example/", "//evil.example/", "/oauth/authorize?x\r\nLocation: x", "javascript:alert(1)"]
    {
        let mut b = Browser::default();
        let page = b.get(&s, &format!("/login?return_to={}", urlencode(evil))).await;
        let r = b.submit(&s, &page, &[("email", EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(r.header("location"), "/account", "return_to {evil:?}");
    }
    // The consent form's token is bound to the session.
    let r = a.get(&s, &authorize_url(&c.id, "openid", &[])).await;
    let r = a.login(&s, &r, EMAIL, PASSWORD).await;
    let consent = a.get(&s, r.header("location")).await;
    assert!(consent.text().contains("Allow access?"));
    let r = a.submit(&s, &consent, &[("decision", "allow"), ("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = mallory.submit(&s, &consent, &[("decision", "allow")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        s.state
            .store
            .consent(&s.state.store.account_by_email(EMAIL).await.unwrap().unwrap().id, &c.id)
            .await
            .unwrap()
            .is_none()
    );
    // Form-only endpoints refuse other bodies.
    let r = crate::support::post("/login").json("{}").send(&s.app).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn lockout_holds_across_restart_and_every_password_path(db: &TestDb) {
    // The seed's table: login per email 5/1m then locked 15 min; per IP 5/1m then 1 min.
    let real = |c: &mut idseal_server::config::Config| {
        let d = idseal_server::config::Config::default();
        for k in ["login_ip", "login_email"] {
            c.rate_limits.insert(k.into(), d.rate_limits[k].clone());
        }
    };
    let s = provider(db, real).await;
    account(&s, EMAIL).await;
    // Successes do not count per account: the owner signing in often is never locked out.
    for i in 0..7 {
        let mut b = Browser { ip: Some(format!("192.0.2.{}", 100 + i)), ..Browser::default() };
        let login = b.get(&s, "/login").await;
        let r = b.submit(&s, &login, &[("email", EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "success {i}: {}", r.text());
    }
    // Signed in, then four wrong current passwords on the change form (failures 1..4), and
    // one wrong password on the login form from elsewhere (failure 5).
    let mut a = Browser { ip: Some("198.51.100.1".into()), ..Browser::default() };
    let login = a.get(&s, "/login").await;
    assert_eq!(a.submit(&s, &login, &[("email", EMAIL), ("password", PASSWORD)]).await.status, StatusCode::SEE_OTHER);
    let page = a.get(&s, "/account").await;
    let change_form = {
        let html = page.text();
        let i = html.find("action=\"/account/password\"").unwrap();
        let start = html[..i].rfind("<form").unwrap();
        crate::support::Resp {
            status: StatusCode::OK,
            headers: page.headers.clone(),
            body: html[start..].to_owned().into(),
        }
    };
    for _ in 0..4 {
        let r = a
            .submit(
                &s,
                &change_form,
                &[("current_password", "wrong password!"), ("new_password", "another password 2")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    let mut w = Browser { ip: Some("198.51.100.2".into()), ..Browser::default() };
    let login = w.get(&s, "/login").await;
    assert_eq!(
        w.submit(&s, &login, &[("email", EMAIL), ("password", "wrong again!!")]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // (A correct change, later, revokes every grant: see sessions_are_listed_and_revocable.)
    // After five failures this email is refused even with the right password, from anywhere.
    let mut b = Browser { ip: Some("203.0.113.7".into()), ..Browser::default() };
    let login = b.get(&s, "/login").await;
    let r = b.submit(&s, &login, &[("email", EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.header("retry-after").parse::<u64>().unwrap() > 0);
    // The lockout is in the database: a restarted instance still refuses.
    let s2 = provider(db, real).await;
    s2.clock.set(idseal_types::UnixTime::from_secs(s.now()));
    let mut c = Browser { ip: Some("203.0.113.8".into()), ..Browser::default() };
    let login = c.get(&s2, "/login").await;
    assert_eq!(
        c.submit(&s2, &login, &[("email", EMAIL), ("password", PASSWORD)]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A password reset proves control of the mailbox and lifts the lock at once.
    let now = idseal_types::UnixTime::from_secs(s.now());
    let id = s2.state.store.account_by_email(EMAIL).await.unwrap().unwrap().id;
    let reset_token = "a-reset-token-for-the-lockout-test";
    let hash = idseal_oauth::token::sha256_hex(reset_token);
    s2.state
        .store
        .insert_email_token(&hash, &id, "reset", now, now.saturating_add(Duration::from_secs(600)))
        .await
        .unwrap();
    let form = c.get(&s2, &format!("/account/reset?token={reset_token}")).await;
    assert_eq!(c.submit(&s2, &form, &[("password", "the new password 9")]).await.status, StatusCode::OK);
    let login = c.get(&s2, "/login").await;
    assert_eq!(
        c.submit(&s2, &login, &[("email", EMAIL), ("password", "the new password 9")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(s.audit_count("LOGIN_FAILURE").await >= 4);
    assert!(s.audit_count("RATE_LIMIT_LOCKOUT").await >= 1);
}

async fn sessions_are_listed_and_revocable(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    account(&s, EMAIL).await;
    let other = account(&s, "carol@example.org").await;
    let sign_in = |email: &'static str| {
        let s = &s;
        async move {
            let mut b = Browser::default();
            let login = b.get(s, "/login").await;
            assert_eq!(
                b.submit(s, &login, &[("email", email), ("password", PASSWORD)]).await.status,
                StatusCode::SEE_OTHER
            );
            b
        }
    };
    let mut a = sign_in(EMAIL).await;
    let mut b = sign_in(EMAIL).await;
    let mut c = sign_in("carol@example.org").await;
    let list = a.get(&s, "/account/sessions").await.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|x| x["current"] == true).count(), 1);
    assert_eq!(list[0]["user_agent"], "test-browser/1.0");
    let b_id = list.iter().find(|x| x["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    get("/account/sessions").send(&s.app).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");

    // Carol cannot revoke Alice's session.
    let page = c.get(&s, "/account").await;
    let (_, fields) = form(&page.text());
    let r = c.post_form(&s, &format!("/account/sessions/{b_id}/revoke"), &fields).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(b.get(&s, "/account").await.status, StatusCode::OK);
    // Alice revokes B from A.
    let page = a.get(&s, "/account").await;
    let (_, fields) = form(&page.text());
    let r = a.post_form(&s, &format!("/account/sessions/{b_id}/revoke"), &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&s, "/account").await.status, StatusCode::SEE_OTHER, "B is signed out");
    assert_eq!(a.get(&s, "/account").await.status, StatusCode::OK, "A is not");
    assert_eq!(s.audit_count("SESSION_REVOKE").await, 1);
    // Changing the password signs out every other session and revokes every grant.
    let c1 = client(&s, json!({})).await;
    let t = exchange(&s, &c1, &get_code(&s, &mut a, &c1.id, "openid offline_access").await).await.json();
    let page = a.get(&s, "/account").await;
    let html = page.text();
    let i = html.find("action=\"/account/password\"").unwrap();
    let start = html[..i].rfind("<form").unwrap();
    let change = crate::support::Resp {
        status: StatusCode::OK,
        headers: page.headers.clone(),
        body: html[start..].to_owned().into(),
    };
    let mut a2 = Browser::default();
    let login = a2.get(&s, "/login").await;
    assert_eq!(a2.submit(&s, &login, &[("email", EMAIL), ("password", PASSWORD)]).await.status, StatusCode::SEE_OTHER);
    let r = a.submit(&s, &change, &[("current_password", PASSWORD), ("new_password", "a changed password 7")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(a.get(&s, "/account").await.status, StatusCode::OK, "this browser stays signed in");
    assert_eq!(a2.get(&s, "/account").await.status, StatusCode::SEE_OTHER, "the other session is gone");
    token(&s, &c1, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(s.audit_count("PASSWORD_CHANGE").await, 1);
    // A tampered cookie is no session.
    let mut t = Browser::default();
    let r = t.get(&s, "/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let _ = other;
}

async fn consent_is_remembered_and_revocable(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let t = exchange(&s, &c, &get_code(&s, &mut b, &c.id, "openid email").await).await.json();
    // Remembered: no page. prompt=consent: the page again. A wider scope: the page again.
    assert_eq!(b.get(&s, &authorize_url(&c.id, "openid", &[])).await.status, StatusCode::FOUND);
    assert_eq!(b.get(&s, &authorize_url(&c.id, "openid", &[("prompt", "consent")])).await.status, StatusCode::OK);
    assert_eq!(b.get(&s, &authorize_url(&c.id, "openid profile", &[])).await.status, StatusCode::OK);
    // prompt=none with a scope not consented to: consent_required at the client.
    let r = b.get(&s, &authorize_url(&c.id, "openid profile", &[("prompt", "none")])).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(param(&location_params(&r), "error"), Some("consent_required"));
    // Deny: access_denied with state and iss.
    let page = b.get(&s, &authorize_url(&c.id, "openid profile", &[])).await;
    let r = b.submit(&s, &page, &[("decision", "deny")]).await;
    let p = location_params(&r);
    assert_eq!(param(&p, "error"), Some("access_denied"));
    assert_eq!(param(&p, "state"), Some("st-123"));
    assert!(param(&p, "iss").is_some());
    // Withdraw from the account page: the client's tokens die with it.
    let page = b.get(&s, "/account").await;
    let (_, fields) = form(&page.text());
    let r = b.post_form(&s, &format!("/account/consents/{}/revoke", c.id), &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    userinfo(&s, t["access_token"].as_str().unwrap()).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(b.get(&s, &authorize_url(&c.id, "openid", &[])).await.status, StatusCode::OK, "asked again");
    assert_eq!(s.audit_count("CONSENT_REVOKE").await, 1);
}

async fn authorization_requests_are_checked(db: &TestDb) {
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({"scope": "openid email"})).await;
    account(&s, EMAIL).await;
    let mut b = Browser::default();
    let no_redirect = |r: &crate::support::Resp| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(r.headers.get("location").is_none(), "never redirected: {:?}", r.headers);
        assert!(r.header("content-type").starts_with("text/html"));
    };
    // Unknown client, unregistered redirect URI, a repeated parameter: a page, no redirect.
    no_redirect(&b.get(&s, &authorize_url("idc_unknown", "openid", &[])).await);
    no_redirect(&b.get(&s, &authorize_url(&c.id, "openid", &[]).replace("rp.example%2Fcb", "evil.example%2Fcb")).await);
    no_redirect(&b.get(&s, &format!("{}&client_id={}", authorize_url(&c.id, "openid", &[]), c.id)).await);
    no_redirect(&b.get(&s, "/oauth/authorize").await);
    // After that, errors go to the client with state and iss.
    let redirected = |r: &crate::support::Resp, code: &str| {
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
        assert!(r.header("location").starts_with(REDIRECT));
        let p = location_params(r);
        assert_eq!(param(&p, "error"), Some(code), "{:?}", p);
        assert_eq!(param(&p, "state"), Some("st-123"));
        assert!(param(&p, "iss").is_some());
    };
    let plain =
        authorize_url(&c.id, "openid", &[]).replace("code_challenge_method=S256", "code_challenge_method=plain");
    redirected(&b.get(&s, &plain).await, "invalid_request");
    let no_pkce = authorize_url(&c.id, "openid", &[]).replace(&format!("&code_challenge={CHALLENGE}"), "");
    redirected(&b.get(&s, &no_pkce).await, "invalid_request");
    let implicit = authorize_url(&c.id, "openid", &[]).replace("response_type=code", "response_type=token");
    redirected(&b.get(&s, &implicit).await, "unsupported_response_type");
    let hybrid = authorize_url(&c.id, "openid", &[]).replace("response_type=code", "response_type=code+id_token");
    redirected(&b.get(&s, &hybrid).await, "unsupported_response_type");
    redirected(&b.get(&s, &authorize_url(&c.id, "openid profile", &[])).await, "invalid_scope");
    redirected(&b.get(&s, &authorize_url(&c.id, "openid", &[("prompt", "none")])).await, "login_required");
    // An eIDAS level needs a phone login (docs/passwordless.md): the sign-in page, which offers it.
    let r = b.get(&s, &authorize_url(&c.id, "openid", &[("acr_values", "http://eidas.europa.eu/LoA/high")])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.header("location").starts_with("/login?return_to="));
    redirected(
        &b.get(
            &s,
            &authorize_url(&c.id, "openid", &[("acr_values", "http://eidas.europa.eu/LoA/high"), ("prompt", "none")]),
        )
        .await,
        "login_required",
    );
    // Signed in with prompt=login: the login page again, then back without a loop.
    let code = get_code(&s, &mut b, &c.id, "openid").await;
    assert!(!code.is_empty());
    let r = b.get(&s, &authorize_url(&c.id, "openid", &[("prompt", "login")])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let done = b.login(&s, &r, EMAIL, PASSWORD).await;
    assert_eq!(b.get(&s, done.header("location")).await.status, StatusCode::FOUND, "no loop after the login");
    // The return address cannot be replayed with the old session: the demanded login must
    // happen after the demand (the marker is MACed, so it cannot be moved either).
    s.advance(5);
    let r = b.get(&s, &authorize_url(&c.id, "openid", &[("prompt", "login")])).await;
    let return_to = form_urlencoded::parse(r.header("location").split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "return_to")
        .unwrap()
        .1
        .into_owned();
    let direct = b.get(&s, &return_to).await;
    assert_eq!(direct.status, StatusCode::SEE_OTHER, "old session refused: {}", direct.text());
    assert!(direct.header("location").starts_with("/login"));
    let forged = return_to.replace("login_after=", "login_after=1");
    assert!(b.get(&s, &forged).await.header("location").starts_with("/login"));
    // max_age=0 on a first consent: login, consent, code (no loop back to the login).
    let c2 = client(&s, json!({"scope": "openid email"})).await;
    let r = b.get(&s, &authorize_url(&c2.id, "openid", &[("max_age", "0")])).await;
    let done = b.login(&s, &r, EMAIL, PASSWORD).await;
    s.advance(3);
    let consent = b.get(&s, done.header("location")).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text());
    let r = b.submit(&s, &consent, &[("decision", "allow")]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert!(param(&location_params(&r), "code").is_some());
    // The authorization request may also be a form POST.
    let q = authorize_url(&c.id, "openid", &[]);
    let (_, query) = q.split_once('?').unwrap();
    let r = crate::support::post("/oauth/authorize")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.as_bytes())
        .send(&s.app)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
}

/// Right of access: a signed-in user gets every log entry about their account (sign-in,
/// consent, tokens…), each with an inclusion proof against a signed checkpoint, and nothing
/// about anyone else.
async fn users_export_their_own_audit_record(db: &TestDb) {
    use base64::Engine as _;
    use idseal_tlog::hash::leaf_hash;
    let b64 = base64::engine::general_purpose::STANDARD;
    let s = provider(db, |_| {}).await;
    let c = client(&s, json!({})).await;
    let alice = account(&s, EMAIL).await;
    let carol = account(&s, "carol@example.org").await;
    let mut a = Browser::default();
    exchange(&s, &c, &get_code(&s, &mut a, &c.id, "openid offline_access").await).await;
    let mut cb = Browser::default();
    let login = cb.get(&s, "/login").await;
    assert_eq!(
        cb.submit(&s, &login, &[("email", "carol@example.org"), ("password", PASSWORD)]).await.status,
        StatusCode::SEE_OTHER
    );

    get("/account/audit").send(&s.app).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    let r = a.get(&s, "/account/audit?from_index=x").await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let r = a.get(&s, "/account/audit").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ex = r.json();
    let vkey = get("/log/verifier-key").send(&s.app).await.text();
    let v = idseal_tlog::NoteVerifier::from_vkey(vkey.trim_end()).unwrap();
    let cp = idseal_tlog::Checkpoint::open(
        ex["checkpoint"].as_str().unwrap().as_bytes(),
        v.name(),
        std::slice::from_ref(&v),
    )
    .unwrap();
    let mine = s.state.store.audit_subject_pseudonym(&alice.id).unwrap();
    assert_eq!(ex["subject_pseudonym"], mine.as_str());
    let all = s.state.store.tlog_entries(0, 100_000).await.unwrap();
    let expected: Vec<u64> =
        all.iter().filter(|e| e.subject_pseudonym.as_deref() == Some(mine.as_str())).map(|e| e.index).collect();
    let entries = ex["entries"].as_array().unwrap();
    assert_eq!(entries.iter().map(|e| e["index"].as_u64().unwrap()).collect::<Vec<_>>(), expected);
    // Sign-in, session, consent and token issue are all there.
    assert!(entries.len() >= 4, "{ex}");
    for e in entries {
        let data = b64.decode(e["entry"].as_str().unwrap()).unwrap();
        let proof: Vec<idseal_tlog::Hash> = e["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| b64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        idseal_tlog::proof::verify_inclusion(
            &leaf_hash(&data),
            e["index"].as_u64().unwrap(),
            cp.size(),
            &proof,
            cp.root(),
        )
        .unwrap();
    }
    // Carol's export holds none of Alice's entries.
    let theirs = cb.get(&s, "/account/audit").await.json();
    let carols = s.state.store.audit_subject_pseudonym(&carol.id).unwrap();
    assert_eq!(theirs["subject_pseudonym"], carols.as_str());
    assert!(theirs["entries"].as_array().unwrap().iter().all(|e| !expected.contains(&e["index"].as_u64().unwrap())));
}
