//! Request plumbing: request ids, security headers, metrics, rate limits, client IPs.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idseal_ratelimit::{Decision, KeyKind};
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::error::ApiError;
use crate::metrics::{PolicyLabels, RequestLabels, RouteLabels};
use crate::state::AppState;

/// The request-id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Random 128-bit request ids, hex.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut b = [0u8; 16];
        SystemRandom::new().fill(&mut b).ok()?;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        HeaderValue::from_str(&hex).ok().map(RequestId::new)
    }
}

/// Keep a caller's `x-request-id` only if it is a plausible id (1 to 64 characters of
/// `A-Z a-z 0-9 - _`); otherwise drop it so that a fresh one is made. Ids are logged, so a
/// caller must not be able to put arbitrary text into every log line of its request.
pub async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let plausible = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).is_some_and(|s| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !plausible {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// Headers on every response. API responses are not cacheable unless a handler says so.
pub async fn security_headers(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k: HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'");
    set(h, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(h, HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set(h, header::CACHE_CONTROL, "no-store");
    if st.settings.issuer.starts_with("https://") {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    res
}

/// Paths that browser-based clients (single-page apps, public clients) call across origins.
/// They take no cookies, so any origin may call them: `Access-Control-Allow-Origin: *` without
/// credentials. The browser pages and the admin API are same-origin only.
const CORS_PATHS: &[&str] = &[
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/oauth/token",
    "/oauth/userinfo",
    "/oauth/revoke",
    "/auth/initiate",
];

/// CORS for the paths in `CORS_PATHS`: answers preflights (204) and marks the answers readable.
pub async fn cors(req: Request, next: Next) -> Response {
    if !CORS_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    if req.method() == axum::http::Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut r = axum::http::StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return r;
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("www-authenticate, retry-after"));
    r
}

/// Abandon a request after `request_timeout_secs` with the JSON 503 of every other error.
pub async fn timeout(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let limit = Duration::from_secs(st.settings.config.request_timeout_secs);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::Unavailable("request timed out".into()).into_response(),
    }
}

/// Count and time every request by its route.
pub async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method()).to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16();
    st.metrics.requests.get_or_create(&RequestLabels { method, route: route.clone(), status }).inc();
    st.metrics.latency.get_or_create(&RouteLabels { route }).observe(start.elapsed().as_secs_f64());
    res
}

/// The client's IP: the TCP peer, or, when `client_ip_header` is configured, the right-most
/// address of that header: the one our own reverse proxy appended. Addresses to its left were
/// sent by the client and are never trusted (a client could otherwise pick a fresh rate-limit
/// bucket, or someone else's address, for every request).
pub fn client_ip(st: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    if let Some(name) = &st.settings.config.client_ip_header {
        let from_header = headers
            .get_all(name.as_str())
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if from_header.is_some() {
            return from_header;
        }
    }
    peer.map(|p| p.ip())
}

/// The method as a metrics label: the standard ones by name, anything else as `other`, so that
/// invented extension methods cannot create unbounded series.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

fn route_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// Apply every IP policy whose routes match this request. Fails closed: when the counters
/// cannot be read the request is refused with 503.
pub async fn rate_limit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path =
        req.extensions().get::<MatchedPath>().map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = client_ip(&st, req.headers(), peer);
    for (name, (policy, kind, routes)) in &st.settings.policies {
        if *kind != KeyKind::Ip || !routes.iter().any(|r| route_matches(r, &path)) {
            continue;
        }
        let key = ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string());
        match idseal_ratelimit::check(&st.store, &st.bucket_key, policy, KeyKind::Ip, &key, st.clock.now()).await {
            Ok(Decision::Allowed { .. }) => {}
            Ok(Decision::Limited { retry_after, new_lockout, .. }) => {
                st.metrics.rate_limited.get_or_create(&PolicyLabels { policy: name.clone() }).inc();
                if new_lockout {
                    crate::audit::lockout(&st, name, ip).await;
                }
                return ApiError::TooManyRequests { retry_after: retry_after.as_secs().max(1) }.into_response();
            }
            Err(e) => return ApiError::Unavailable(format!("rate-limit store: {e}")).into_response(),
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::route_matches;

    #[test]
    fn route_patterns() {
        assert!(route_matches("/admin/*", "/admin/keys"));
        assert!(route_matches("/health", "/health"));
        assert!(!route_matches("/health", "/healthz"));
        assert!(!route_matches("/admin/*", "/administrator"));
    }

    #[test]
    fn extension_methods_share_one_label() {
        use axum::http::Method;
        assert_eq!(super::method_label(&Method::GET), "GET");
        assert_eq!(super::method_label(&Method::from_bytes(b"FOO1").unwrap()), "other");
        assert_eq!(super::method_label(&Method::from_bytes(b"FOO2").unwrap()), "other");
    }
}
