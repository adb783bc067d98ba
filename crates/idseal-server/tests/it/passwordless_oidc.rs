//! "Sign in with your phone" through the OIDC provider (docs/passwordless.md, "OIDC"), the FCM
//! push of a login, and a seal revoked on the VRL, on both backends.

use axum::http::StatusCode;
use serde_json::json;

use crate::oauth_support::{
    Browser, REDIRECT, authorize_url, claims, client, exchange, location_params, param, userinfo,
};
use crate::passwordless::{channel, next};
use crate::passwordless_support::{approve, server};
use crate::support::{T0, TestDb, post};

both_backends!(oidc_login_with_the_phone, fcm_push_on_initiate, seal_on_the_vrl);

const ACR_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";

/// The hidden fields of the form whose action is `action`.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html.find(&format!("action=\"{action}\"")).unwrap_or_else(|| panic!("no form {action} in {html}"));
    let tail = &html[start..];
    let end = tail.find("</form>").unwrap();
    let form = format!("<form {}", &tail[..end + 7]);
    crate::oauth_support::form(&form).1
}

fn shown_code(html: &str) -> String {
    let i = html.find("<strong id=\"code\">").unwrap() + "<strong id=\"code\">".len();
    html[i..i + 6].to_owned()
}

async fn oidc_login_with_the_phone(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let s = &pl.s;
    let c = client(s, json!({"scope": "openid identity:name identity:age_over_18 identity:date_of_birth"})).await;
    let phone = pl.phone(3).await;
    let mut device = channel(&pl.ws(""), &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut device).await.unwrap()["type"], "ready");

    // Identity scopes send the browser to the sign-in page, which offers the phone.
    let mut b = Browser::default();
    let url = authorize_url(&c.id, "openid identity:name identity:age_over_18", &[("acr_values", ACR_SUBSTANTIAL)]);
    let r = b.get(s, &url).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get(s, r.header("location")).await;
    assert!(page.text().contains("verified identity: sign in with your phone"), "{}", page.text());
    let mut fields = form_fields(&page.text(), "/login/phone");
    fields.push(("token_id".into(), phone.token_id.clone()));
    let r = b.post_form(s, "/login/phone", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let wait_url = r.header("location").to_owned();
    let wait = b.get(s, &wait_url).await;
    assert_eq!(wait.status, StatusCode::OK);
    assert_eq!(wait.header("refresh"), "2");
    let code = shown_code(&wait.text());

    // The phone sees the client, unverified, and the same code; the user shares less.
    let push = next(&mut device).await.unwrap();
    assert_eq!(push["autoPassword"], code.as_str());
    assert_eq!(push["serviceName"], "Relying Party");
    assert_eq!(push["serviceVerified"], "false");
    assert_eq!(push["serviceUrl"], "https://rp.example");
    assert_eq!(push["scopes"], "identity:age_over_18 identity:name");
    let session = push["sessionId"].as_str().unwrap();
    // Another browser cannot collect the login; nor can this browser collect it for another
    // client's request (the binding covers the exact request).
    let mut other = Browser::default();
    assert_eq!(other.get(s, &wait_url).await.status, StatusCode::FORBIDDEN);
    let evil = client(s, json!({"scope": "openid identity:name identity:age_over_18 identity:date_of_birth"})).await;
    let swapped_request = authorize_url(&evil.id, "openid identity:name identity:age_over_18", &[]);
    let swapped = wait_url.split("&return_to=").next().unwrap().to_owned()
        + "&return_to="
        + &form_urlencoded::byte_serialize(swapped_request.as_bytes()).collect::<String>();
    assert_eq!(b.get(s, &swapped).await.status, StatusCode::FORBIDDEN);
    let r = pl.verify(&approve(&phone, &phone.key, session, &code, T0, &["identity:age_over_18"])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json().get("jwt").is_none(), "OIDC logins finish in the browser");

    // The waiting page completes the authorization request.
    let done = b.get(s, &wait_url).await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.text());
    assert!(done.header("location").starts_with(REDIRECT));
    let p = location_params(&done);
    let auth_code = param(&p, "code").unwrap().to_owned();
    // Collected once: the binding (and its cookie) are gone.
    assert_eq!(b.get(s, &wait_url).await.status, StatusCode::FORBIDDEN);
    let t = exchange(s, &c, &auth_code).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text());
    let t = t.json();
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "http://eidas.europa.eu/LoA/high");
    assert_eq!(id["amr"], json!(["hwk", "otp", "mca"]));
    assert_eq!(id["age_over_18"], true);
    assert!(id.get("given_name").is_none() && id.get("birthdate").is_none(), "only what was granted: {id}");
    assert!(id.get("email").is_none(), "a phone identity has no email: {id}");
    assert!(id.get("pq_sig").is_some());
    assert_eq!(t["scope"], "identity:age_over_18 openid");
    let info = userinfo(s, t["access_token"].as_str().unwrap()).await.json();
    assert_eq!(info["age_over_18"], true);
    assert_eq!(info["sub"], id["sub"]);
    // The browser is signed in as the phone identity: no email, no password form.
    let account = b.get(s, "/account").await.text();
    assert!(account.contains("with your phone") && account.contains(&phone.token_id), "{account}");
    assert!(!account.contains("Change password") && !account.contains("device:"), "{account}");

    // A credential below acr_values never reaches the phone: access_denied.
    let low = pl.phone(1).await;
    let url = authorize_url(&c.id, "openid identity:name", &[("acr_values", ACR_SUBSTANTIAL)]);
    let mut b = Browser::default();
    let r = b.get(s, &url).await;
    let page = b.get(s, r.header("location")).await;
    let mut fields = form_fields(&page.text(), "/login/phone");
    fields.push(("token_id".into(), low.token_id.clone()));
    let r = b.post_form(s, "/login/phone", &fields).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert_eq!(param(&location_params(&r), "error"), Some("access_denied"));
    // Without the CSRF token: refused.
    let r = b.post_form(s, "/login/phone", &[("token_id".into(), low.token_id.clone())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn fcm_push_on_initiate(db: &TestDb) {
    let clock: std::sync::Arc<dyn idseal_types::Clock> =
        std::sync::Arc::new(idseal_types::FixedClock::new(idseal_types::UnixTime::from_secs(T0)));
    let (fcm, account) = idseal_testkit::FcmServer::start(clock).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("service-account.json");
    std::fs::write(&file, &account).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let endpoint = fcm.endpoint();
    let pl = server(db, |c| {
        c.push.fcm_service_account_file = Some(file.clone());
        c.push.fcm_endpoint = endpoint;
    })
    .await;
    let (svc, _) = pl.service("bar-le-central", &["identity:name"]).await;
    let (vds, token_id) = pl.seal(2, "1990-02-28");
    let key = idseal_x1280::DeviceKey::generate().unwrap();
    let body = json!({"vdsData": vds, "publicKeyPem": key.public_key().to_pem(), "deviceId": "pixel", "fcmToken": "fcm-token-1"});
    assert_eq!(post("/enroll").json(&body.to_string()).send(&pl.s.app).await.status, StatusCode::OK);
    let body = json!({"tokenId": token_id, "serviceVds": svc});
    let started = post("/auth/initiate").json(&body.to_string()).send(&pl.s.app).await.json();
    fcm.wait_for(1, std::time::Duration::from_secs(10)).await;
    let m = &fcm.received()[0];
    assert_eq!(m.token, "fcm-token-1");
    assert!(!m.has_notification, "data messages only");
    assert_eq!(m.data["type"], "login_request");
    assert_eq!(m.data["sessionId"], started["sessionId"].as_str().unwrap());
    assert_eq!(m.data["autoPassword"], started["autoPassword"].as_str().unwrap());
    assert_eq!(m.data["serviceVerified"], "true");
    // A dead token: the enrollment falls back to the device channel.
    fcm.mark_unregistered("fcm-token-1");
    let body = json!({"tokenId": token_id, "serviceVds": svc});
    assert_eq!(post("/auth/initiate").json(&body.to_string()).send(&pl.s.app).await.status, StatusCode::OK);
    for _ in 0..100 {
        let e = pl.s.state.store.enrollment(&token_id).await.unwrap().unwrap();
        if e.push_kind == "channel" {
            assert_eq!(e.push_token, None);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the dead FCM token was not cleared");
}

async fn seal_on_the_vrl(db: &TestDb) {
    let pl = server(db, |c| c.trust.cache_ttl_secs = 60).await;
    let (svc, _) = pl.service("bar-le-central", &["identity:name"]).await;
    let phone = pl.phone(2).await;
    let (other_vds, _) = pl.seal(2, "1990-02-28");
    // The next VRL lists both seals; the cache takes it once its copy is older than the TTL.
    let now = idseal_types::UnixTime::from_secs(T0);
    let mut revoked = pl.demo.description.clone();
    revoked.schemes[0].vrl.sequence_number = 2;
    revoked.schemes[0].revoked = [&phone.vds, &other_vds]
        .iter()
        .map(|v| idseal_trust::describe::RevokedDescription {
            fingerprint: idseal_trust::lists::to_hex(&idseal_vds::decode(v).unwrap().fingerprint()),
            revoked_at: idseal_trust::lists::format_datetime(now),
            reason: "stolen".into(),
        })
        .collect();
    for doc in &pl.demo.build_with(&revoked, now).documents {
        std::fs::write(pl._lists.path().join(doc.location.rsplit('/').next().unwrap()), &doc.xml).unwrap();
    }
    pl.s.advance(61);
    // Approving with a seal on the VRL: 403, and the session is not approved.
    let started = pl.initiate(&phone, &svc, &["identity:name"]).await;
    let body = approve(
        &phone,
        &phone.key,
        started["sessionId"].as_str().unwrap(),
        started["autoPassword"].as_str().unwrap(),
        T0 + 61,
        &["identity:name"],
    );
    pl.verify(&body).await.assert_error(StatusCode::FORBIDDEN, "vds_revoked");
    let row = pl.s.state.store.auth_session(started["sessionId"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(row.status, "pending");
    // Enrolling a seal on the VRL: 403.
    let key = idseal_x1280::DeviceKey::generate().unwrap();
    let r = post("/enroll")
        .json(&crate::passwordless_support::enroll_body(&other_vds, &key.public_key().to_pem(), "d"))
        .send(&pl.s.app)
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "vds_revoked");
}
