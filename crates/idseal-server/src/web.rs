//! The browser side: cookies, request metadata, CSRF tokens and server-rendered HTML pages.
//!
//! Pages are plain HTML forms that work without JavaScript. Every value put into a page goes
//! through [`esc`]; pages get a Content-Security-Policy that allows only their own inline style.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::middleware::client_ip;
use crate::state::AppState;

/// The session cookie (an HS256 JWT naming a session row). The `__Host-` prefix makes
/// browsers refuse it unless it is Secure, host-only and for `/`, so a sibling subdomain cannot
/// plant one.
pub const SESSION_COOKIE: &str = "__Host-idseal_session";
/// The pre-session CSRF binding cookie (`__Host-` for the same reason).
pub const CSRF_COOKIE: &str = "__Host-idseal_csrf";

/// Who is asking: client IP and user agent, for rate limits, sessions and the audit log.
#[derive(Clone, Debug)]
pub struct Meta {
    /// Client IP (see `client_ip_header`).
    pub ip: Option<IpAddr>,
    /// User agent, at most 256 characters.
    pub user_agent: Option<String>,
    /// The request's cookies.
    pub cookies: Cookies,
}

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(Self {
            ip: client_ip(st, &parts.headers, peer),
            user_agent: user_agent(&parts.headers),
            cookies: Cookies::from_headers(&parts.headers),
        })
    }
}

impl Meta {
    /// No request: background tasks.
    pub fn none() -> Self {
        Self { ip: None, user_agent: None, cookies: Cookies(Vec::new()) }
    }

    /// The IP as a rate-limit key.
    pub fn ip_key(&self) -> String {
        self.ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string())
    }
}

/// The user agent, without control characters, at most 256 characters.
pub fn user_agent(h: &HeaderMap) -> Option<String> {
    h.get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().filter(|c| !c.is_control()).take(256).collect())
}

/// The request's cookies (name → first value).
#[derive(Clone, Debug, Default)]
pub struct Cookies(Vec<(String, String)>);

impl Cookies {
    /// Parse every `Cookie` header (RFC 6265 §5.4 form: `a=b; c=d`), at most 50 cookies.
    pub fn from_headers(h: &HeaderMap) -> Self {
        let mut out = Vec::new();
        for v in h.get_all(header::COOKIE) {
            let Ok(s) = v.to_str() else { continue };
            for pair in s.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=')
                    && out.len() < 50
                {
                    out.push((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()));
                }
            }
        }
        Self(out)
    }

    /// The first cookie called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A `Set-Cookie` value: HttpOnly, Secure, Path=/, with the given SameSite and lifetime.
pub fn set_cookie(name: &str, value: &str, same_site: &str, max_age_secs: u64) -> HeaderValue {
    let v = format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite={same_site}; Max-Age={max_age_secs}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A `Set-Cookie` value that deletes `name`.
pub fn clear_cookie(name: &str) -> HeaderValue {
    set_cookie(name, "", "Lax", 0)
}

/// Escape text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}\
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password],input[type=text]\
{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#a4161a}\
.muted{color:#555;font-size:.9rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem;\
border-bottom:1px solid #ddd;font-size:.9rem}form.inline{display:inline}";

/// A server-rendered page.
#[derive(Debug)]
pub struct Page {
    /// HTTP status.
    pub status: StatusCode,
    /// `<title>` and `<h1>`.
    pub title: String,
    /// The body, already escaped HTML.
    pub body: String,
    /// Extra `Set-Cookie` headers.
    pub cookies: Vec<HeaderValue>,
}

impl Page {
    /// A 200 page.
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Self {
        Self { status: StatusCode::OK, title: title.into(), body: body.into(), cookies: Vec::new() }
    }

    /// An error page with `status` and a plain message.
    pub fn error(status: StatusCode, title: &str, message: &str) -> Self {
        Self::new(title, format!("<p class=\"error\">{}</p>", esc(message))).status(status)
    }

    /// The same page with another status.
    #[must_use]
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The same page setting a cookie.
    #[must_use]
    pub fn cookie(mut self, c: HeaderValue) -> Self {
        self.cookies.push(c);
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width,initial-scale=1\"><title>{t} · idseal</title><style>{STYLE}</style></head>\
             <body><h1>{t}</h1>{b}</body></html>",
            t = esc(&self.title),
            b = self.body
        );
        let mut r = (self.status, html).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        h.insert(header::CONTENT_SECURITY_POLICY, page_csp());
        for c in self.cookies {
            h.append(header::SET_COOKIE, c);
        }
        r
    }
}

/// Pages may use their inline style sheet and nothing else; no scripts, no framing.
/// `form-action` is not restricted: a consent form's answer redirects to the client.
fn page_csp() -> HeaderValue {
    use aws_lc_rs::digest::{SHA256, digest};
    use base64::Engine as _;
    let h = base64::engine::general_purpose::STANDARD.encode(digest(&SHA256, STYLE.as_bytes()));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{h}'; frame-ancestors 'none'; base-uri 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"))
}

/// Render handler errors as pages (this endpoint is visited by browsers).
pub fn page_result(r: Result<Response, crate::error::ApiError>) -> Response {
    match r {
        Ok(r) => r,
        Err(crate::error::ApiError::Internal(e)) => {
            tracing::error!(error = %e, "browser request failed");
            Page::error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later.")
                .into_response()
        }
        Err(crate::error::ApiError::TooManyRequests { retry_after }) => {
            let mut r = Page::error(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", "Please wait and try again.")
                .into_response();
            r.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
            r
        }
        Err(crate::error::ApiError::Unavailable(e)) => {
            tracing::warn!(error = %e, "browser request unavailable");
            Page::error(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "Please try again later.").into_response()
        }
        Err(e) => Page::error(StatusCode::BAD_REQUEST, "Request refused", &e.to_string()).into_response(),
    }
}

/// A 303 redirect to `location`, with extra `Set-Cookie` headers.
pub fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    redirect(StatusCode::SEE_OTHER, location, cookies)
}

/// A redirect with `status` to `location`.
pub fn redirect(status: StatusCode, location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut r = status.into_response();
    let h = r.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => return Page::error(StatusCode::BAD_REQUEST, "Bad request", "invalid redirect").into_response(),
    }
    for c in cookies {
        h.append(header::SET_COOKIE, c);
    }
    r
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(name), esc(value))
}

/// Read an `application/x-www-form-urlencoded` body into pairs; a name given twice is refused
/// (RFC 6749 §3.1, §3.2: parameters must not be repeated).
pub fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.iter().any(|(n, _)| *n == k) {
            return Err(format!("parameter `{k}` is repeated"));
        }
        if out.len() >= 64 {
            return Err("too many parameters".into());
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// The value of `name` in form pairs, if present and not empty.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// Whether the request body claims to be a form.
pub fn is_form(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn repeated_form_parameters_are_refused() {
        assert!(form_pairs(b"a=1&b=2").is_ok());
        assert!(form_pairs(b"a=1&a=2").is_err());
        assert_eq!(field(&form_pairs(b"a=&b=x%20y").unwrap(), "b"), Some("x y"));
        assert_eq!(field(&form_pairs(b"a=").unwrap(), "a"), None);
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; __Host-idseal_session=xyz"));
        h.append(header::COOKIE, HeaderValue::from_static("b=\"2\""));
        let c = Cookies::from_headers(&h);
        assert_eq!(c.get(SESSION_COOKIE), Some("xyz"));
        assert_eq!(c.get("b"), Some("2"));
        assert_eq!(c.get("nope"), None);
    }
}
