//! Helpers of the OAuth suites: a provider with a client and an account, a browser with a
//! cookie jar that reads forms, and the token endpoint.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idseal_oauth::password::Argon2Params;
use idseal_store::AccountRow;
use idseal_types::UnixTime;
use serde_json::Value;

use crate::support::{Resp, Server, TestDb, get, post};

pub const REDIRECT: &str = "https://rp.example/cb";
pub const LOGOUT_REDIRECT: &str = "https://rp.example/bye";
pub const EMAIL: &str = "alice@example.org";
pub const PASSWORD: &str = "correct horse battery";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Cheap argon2 parameters for tests (the default costs ~20 ms per hash).
pub fn fast_argon2() -> Argon2Params {
    Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 }
}

/// A provider with fast keys and hashes, generous rate limits unless a test sets them.
pub async fn provider(db: &TestDb, tweak: impl FnOnce(&mut idseal_server::config::Config)) -> Server {
    db.server(|c| {
        crate::support::eddsa_only(c);
        c.keys.algorithms.push("ES256".into());
        c.oauth.argon2 = fast_argon2();
        for name in ["login_ip", "login_email", "registration", "token", "password_reset"] {
            c.rate_limits.insert(name.into(), crate::support::admin_policy("1000/1m", &[]));
            if let Some(p) = c.rate_limits.get_mut(name) {
                p.routes.clear();
                p.key = match name {
                    "login_email" | "password_reset" => idseal_ratelimit::KeyKind::Account,
                    "token" => idseal_ratelimit::KeyKind::Client,
                    _ => idseal_ratelimit::KeyKind::Ip,
                };
            }
        }
        tweak(c);
    })
    .await
}

/// A registered client.
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

/// Register a client through the admin API with `meta` merged over a confidential default.
pub async fn client(s: &Server, meta: Value) -> TestClient {
    let mut body = serde_json::json!({
        "client_name": "Relying Party",
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": [LOGOUT_REDIRECT],
        "id_token_signed_response_alg": "EdDSA",
    });
    if let (Some(b), Some(m)) = (body.as_object_mut(), meta.as_object()) {
        for (k, v) in m {
            b.insert(k.clone(), v.clone());
        }
    }
    let r = post("/admin/clients").bearer(s.token()).json(&body.to_string()).send(&s.app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    TestClient {
        id: v["client_id"].as_str().unwrap().to_owned(),
        secret: v["client_secret"].as_str().map(str::to_owned),
    }
}

/// A verified account with [`EMAIL`] and [`PASSWORD`] written straight to the store.
pub async fn account(s: &Server, email: &str) -> AccountRow {
    let now = UnixTime::from_secs(s.now());
    let row = AccountRow {
        id: idseal_oauth::token::uuid_v4(&rand16()),
        email: email.to_owned(),
        password_hash: Some(idseal_oauth::password::hash(PASSWORD, &rand16(), &fast_argon2()).unwrap()),
        email_verified: true,
        name: Some("Alice Example".into()),
        kind: "password".into(),
        created_at: now,
        updated_at: now,
    };
    s.state.store.insert_account(&row).await.unwrap();
    row
}

fn rand16() -> [u8; 16] {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b
}

/// A browser: a cookie jar and a client address.
#[derive(Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
    pub ip: Option<String>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn take_cookies(&mut self, r: &Resp) {
        for v in r.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.iter().any(|(k, _)| k == name)
    }

    pub async fn get(&mut self, s: &Server, uri: &str) -> Resp {
        let mut req = get(uri).header("cookie", &self.cookie_header()).header("user-agent", "test-browser/1.0");
        if let Some(ip) = &self.ip {
            req = req.from(ip);
        }
        let r = req.send(&s.app).await;
        self.take_cookies(&r);
        r
    }

    pub async fn post_form(&mut self, s: &Server, uri: &str, fields: &[(String, String)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut req = post(uri)
            .header("cookie", &self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", "test-browser/1.0")
            .body(body.as_bytes());
        if let Some(ip) = &self.ip {
            req = req.from(ip);
        }
        let r = req.send(&s.app).await;
        self.take_cookies(&r);
        r
    }

    /// Submit the first form of `page` with its hidden fields plus `extra`; returns the answer.
    pub async fn submit(&mut self, s: &Server, page: &Resp, extra: &[(&str, &str)]) -> Resp {
        let (action, mut fields) = form(&page.text());
        for (k, v) in extra {
            fields.retain(|(n, _)| n != k);
            fields.push(((*k).to_owned(), (*v).to_owned()));
        }
        self.post_form(s, &action, &fields).await
    }

    /// Sign in at the login page `r` points to (a redirect or the page itself).
    pub async fn login(&mut self, s: &Server, r: &Resp, email: &str, password: &str) -> Resp {
        let page = if r.status.is_redirection() {
            self.get(s, r.header("location")).await
        } else {
            Resp { status: r.status, headers: r.headers.clone(), body: r.body.clone() }
        };
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        self.submit(s, &page, &[("email", email), ("password", password)]).await
    }
}

/// The first `<form>`'s action and hidden inputs.
pub fn form(html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").unwrap_or_else(|| panic!("no form in {html}"));
    let f = &html[start..];
    let end = f.find("</form>").unwrap();
    let f = &f[..end];
    let action = attr(f, "action").unwrap_or_default();
    let mut fields = Vec::new();
    for part in f.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        if attr(tag, "type").as_deref() == Some("hidden") {
            fields.push((attr(tag, "name").unwrap(), attr(tag, "value").unwrap_or_default()));
        }
    }
    (unescape(&action), fields.into_iter().map(|(k, v)| (unescape(&k), unescape(&v))).collect())
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let rest = &tag[i..];
    Some(rest[..rest.find('"')?].to_owned())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

/// The authorization request URL.
pub fn authorize_url(client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth/authorize?{}", q.finish())
}

/// Query parameters of a redirect's `Location`.
pub fn location_params(r: &Resp) -> Vec<(String, String)> {
    let loc = r.header("location");
    let q = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Sign in, consent if asked, and return the code from the redirect to the client.
pub async fn get_code(s: &Server, b: &mut Browser, client_id: &str, scope: &str) -> String {
    let url = authorize_url(client_id, scope, &[]);
    let mut r = b.get(s, &url).await;
    if r.status == StatusCode::SEE_OTHER && r.header("location").starts_with("/login") {
        let done = b.login(s, &r, EMAIL, PASSWORD).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "login: {}", done.text());
        r = b.get(s, done.header("location")).await;
    }
    if r.status == StatusCode::OK {
        assert!(r.text().contains("Allow access?"), "consent page expected: {}", r.text());
        r = b.submit(s, &r, &[("decision", "allow")]).await;
    }
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert!(r.header("location").starts_with(REDIRECT), "{}", r.header("location"));
    let p = location_params(&r);
    assert_eq!(param(&p, "state"), Some("st-123"));
    assert_eq!(param(&p, "iss"), Some(s.state.settings.issuer.as_str()));
    param(&p, "code").expect("code").to_owned()
}

/// POST to the token endpoint with HTTP Basic client authentication.
pub async fn token(s: &Server, c: &TestClient, fields: &[(&str, &str)]) -> Resp {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut req =
        post("/oauth/token").header("content-type", "application/x-www-form-urlencoded").body(body.as_bytes());
    if let Some(secret) = &c.secret {
        req = req.header("authorization", &format!("Basic {}", STANDARD.encode(format!("{}:{secret}", c.id))));
    }
    req.send(&s.app).await
}

/// Exchange a code.
pub async fn exchange(s: &Server, c: &TestClient, code: &str) -> Resp {
    token(
        s,
        c,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// The claims of a JWT, unverified.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Call userinfo with a bearer token.
pub async fn userinfo(s: &Server, at: &str) -> Resp {
    get("/oauth/userinfo").bearer(at).send(&s.app).await
}
