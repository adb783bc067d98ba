//! The idseal HTTP server: the composition root and the only crate that knows HTTP.
//!
//! It wires the protocol cores to axum: configuration, routes, errors to responses, request
//! ids, security headers, body limits, rate limits, metrics, health, the OpenAPI document and
//! background tasks (key refresh and deactivation, audit-log checkpoints, counter purge). It holds no protocol logic.

pub mod audit;
pub mod config;
pub mod error;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod middleware;
pub mod oidc;
pub mod openapi;
pub mod push;
pub mod routes;
pub mod state;
pub mod tlog;
pub mod trust_cache;
pub mod web;
pub mod x1280;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use idseal_ratelimit::RateLimitStore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::middleware::{REQUEST_ID, RandomRequestId};
use crate::state::{AppState, StartError};

/// The complete router for `state`.
pub fn router(state: AppState) -> Router {
    let cfg = &state.settings.config;
    // `route_layer` does not reach the router's fallback (it does reach each route's 405
    // fallback): 404 answers are observed by a layer of their own so that they are counted too.
    let observe = axum::middleware::from_fn_with_state(state.clone(), middleware::observe);
    Router::new()
        .route("/health", get(routes::health::health))
        .route("/metrics", get(routes::health::metrics))
        .route("/.well-known/jwks.json", get(routes::wellknown::jwks))
        .route("/openapi.json", get(routes::wellknown::openapi))
        .route("/admin/keys", get(routes::admin::list_keys))
        .route("/admin/keys/rotate", post(routes::admin::rotate_key))
        .route("/log/checkpoint", get(routes::log::checkpoint))
        .route("/log/verifier-key", get(routes::log::verifier_key))
        .route("/log/tile/{*rest}", get(routes::log::tile))
        .route("/log/entries/{index}", get(routes::log::entry))
        .route("/log/proof/inclusion", get(routes::log::inclusion))
        .route("/log/proof/consistency", get(routes::log::consistency))
        .route("/admin/log/checkpoint", post(routes::log::sign_now))
        .route("/admin/audit", get(routes::log::audit))
        .route("/admin/audit/export", get(routes::log::export))
        .route("/admin/clients", get(routes::oauth::clients::admin_list).post(routes::oauth::clients::admin_create))
        .route(
            "/admin/clients/{id}",
            get(routes::oauth::clients::admin_get).delete(routes::oauth::clients::admin_delete),
        )
        .route("/.well-known/openid-configuration", get(routes::oauth::discovery))
        .route(
            "/oauth/authorize",
            get(routes::oauth::authorize::authorize).post(routes::oauth::authorize::authorize_post),
        )
        .route("/oauth/authorize/decision", post(routes::oauth::authorize::decision))
        .route("/oauth/token", post(routes::oauth::token::token))
        .route("/oauth/userinfo", get(routes::oauth::resource::userinfo).post(routes::oauth::resource::userinfo_post))
        .route("/oauth/revoke", post(routes::oauth::resource::revoke))
        .route("/oauth/introspect", post(routes::oauth::resource::introspect))
        .route("/oauth/logout", get(routes::oauth::logout::logout_get).post(routes::oauth::logout::logout_post))
        .route("/oauth/register", post(routes::oauth::clients::dynamic))
        .route("/login", get(routes::account::login_form).post(routes::account::login))
        .route("/register", get(routes::account::register_form).post(routes::account::register))
        .route("/account", get(routes::account::manage::page))
        .route("/account/verify", get(routes::account::verify_email))
        .route("/account/forgot", get(routes::account::recovery::forgot_form).post(routes::account::recovery::forgot))
        .route("/account/reset", get(routes::account::recovery::reset_form).post(routes::account::recovery::reset))
        .route("/account/sessions", get(routes::account::manage::sessions_json))
        .route("/account/audit", get(routes::account::manage::audit_export))
        .route("/account/sessions/{id}/revoke", post(routes::account::manage::revoke_session))
        .route("/account/consents/{client_id}/revoke", post(routes::account::manage::revoke_consent))
        .route("/account/password", post(routes::account::manage::change_password))
        .route("/account/logout", post(routes::account::manage::logout))
        .route("/trust/{file}", get(routes::trust::published_list))
        .route("/enroll", post(routes::x1280::enroll::enroll))
        .route("/enroll/revoke", post(routes::x1280::enroll::self_revoke))
        .route("/auth/initiate", post(routes::x1280::auth::initiate))
        .route("/auth/verify", post(routes::x1280::auth::verify))
        .route("/ws/session/{session_id}", get(routes::x1280::ws::session_socket))
        .route("/ws/device/{token_id}", get(routes::x1280::ws::device_socket))
        .route("/login/phone", post(routes::account::phone::start))
        .route("/login/phone/wait", get(routes::account::phone::wait))
        .route("/admin/services", get(routes::x1280::admin::list_services).post(routes::x1280::admin::register_service))
        .route("/admin/services/{id}", axum::routing::delete(routes::x1280::admin::delete_service))
        .route("/admin/enrollments", get(routes::x1280::admin::list_enrollments))
        .route("/admin/enrollments/{token_id}", get(routes::x1280::admin::enrollment_detail))
        .route("/admin/enrollments/{token_id}/revoke", post(routes::x1280::admin::revoke_enrollment))
        .route("/admin/sessions", get(routes::x1280::admin::list_sessions))
        .route("/admin/sessions/live", get(routes::x1280::admin::live_sessions))
        .merge(scal3_routes())
        .fallback((|| async { ApiError::NotFound }).layer(observe.clone()))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::rate_limit))
        .route_layer(observe)
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal("handler panicked".into()).into_response()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::timeout))
        .layer(axum::middleware::from_fn(middleware::cors))
        // Outside the panic and timeout layers, so that their answers carry the headers too.
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), RandomRequestId))
        .layer(axum::middleware::from_fn(middleware::sanitize_request_id))
        .with_state(state)
}

/// Bind the configured address.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr: addr.to_string(), source })
}

/// Serve until `shutdown` resolves, then finish in-flight requests (for at most
/// `request_timeout_secs`) and close the database.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = spawn_background(state.clone());
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    // Graceful shutdown waits for every open connection, and one whose client never finishes
    // sending a request head is covered by no handler timeout: without a bound, one such
    // client keeps the process from ever exiting. In-flight requests end within
    // `request_timeout_secs`, so connections still open that long after the signal are dropped.
    let grace = Duration::from_secs(state.settings.config.request_timeout_secs);
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = signalled.send(());
    });
    let result = tokio::select! {
        r = server.into_future() => r,
        () = async move {
            match on_signal.await {
                Ok(()) => tokio::time::sleep(grace).await,
                Err(_) => std::future::pending().await,
            }
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "connections still open after the shutdown grace period; closing them");
            Ok(())
        }
    };
    tasks.abort();
    state.store.close().await;
    result
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

/// Periodic work: reload and deactivate keys, sign audit-log checkpoints, purge expired
/// counters.
/// The SCAL3 routes (docs/scal3.md), when the server is built with the `scal3` feature.
#[cfg(feature = "scal3")]
fn scal3_routes() -> Router<AppState> {
    Router::new()
        .route("/scal3/provider-key", get(routes::scal3::provider_key))
        .route("/scal3/enrol", post(routes::scal3::enrol))
        .route("/scal3/challenge", post(routes::scal3::challenge))
        .route("/scal3/prove", post(routes::scal3::prove))
}

/// Without the `scal3` feature: no SCAL3 routes.
#[cfg(not(feature = "scal3"))]
fn scal3_routes() -> Router<AppState> {
    Router::new()
}

fn spawn_background(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let refresh = Duration::from_secs(state.settings.config.keys.refresh_secs);
        let mut keys = tokio::time::interval(refresh);
        let mut purge = tokio::time::interval(Duration::from_secs(300));
        let mut checkpoint = tokio::time::interval(Duration::from_secs(state.settings.config.tlog.checkpoint_secs));
        let mut expiry = tokio::time::interval(Duration::from_secs(1));
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keys.tick().await;
        loop {
            tokio::select! {
                _ = keys.tick() => {
                    if let Err(e) = state.refresh_keys().await {
                        tracing::error!(error = %e, "key refresh failed");
                    }
                }
                _ = expiry.tick() => {
                    if let Err(e) = x1280::expire_sessions(&state).await {
                        tracing::warn!(error = ?e, "login-session expiry failed");
                    }
                }
                _ = checkpoint.tick() => {
                    if let Err(e) = tlog::sign_checkpoint(&state).await {
                        tracing::error!(error = %e, "audit-log checkpoint failed");
                    }
                }
                _ = purge.tick() => {
                    let now = state.clock.now();
                    if let Err(e) = state.store.purge(now, now.saturating_sub(Duration::from_secs(7 * 86400))).await {
                        tracing::warn!(error = %e, "rate-limit purge failed");
                    }
                    if let Err(e) = state.store.purge_oauth(now).await {
                        tracing::warn!(error = %e, "OAuth purge failed");
                    }
                    let keep = state.settings.config.passwordless.session_retention_days.saturating_mul(86400);
                    if let Err(e) = state.store.purge_auth_sessions(now.saturating_sub(Duration::from_secs(keep))).await {
                        tracing::warn!(error = %e, "login-session purge failed");
                    }
                    #[cfg(feature = "scal3")]
                    if let Err(e) = state.store.purge_scal3_challenges(now.saturating_sub(Duration::from_secs(86_400))).await {
                        tracing::warn!(error = %e, "SCAL3 challenge purge failed");
                    }
                    let collect = Duration::from_secs(x1280::RESULT_COLLECT_SECS.unsigned_abs());
                    if let Err(e) = state.store.clear_stale_results(now.saturating_sub(collect)).await {
                        tracing::warn!(error = %e, "login-result sweep failed");
                    }
                }
            }
        }
    })
}
