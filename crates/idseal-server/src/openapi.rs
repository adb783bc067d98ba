//! The OpenAPI 3.1 description, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::account::{self, manage, phone, recovery};
use crate::routes::oauth::{self, authorize, clients, logout, resource, token};
use crate::routes::x1280::{admin as x1280_admin, auth, enroll, ws};
use crate::routes::{admin, health, log, trust, wellknown};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = api.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "idseal", description = "Document-anchored identity provider", license(name = "Apache-2.0")),
    paths(health::health, health::metrics, wellknown::jwks, wellknown::openapi, admin::list_keys, admin::rotate_key,
          log::checkpoint, log::verifier_key, log::tile, log::entry, log::inclusion, log::consistency,
          log::sign_now, log::audit, log::export, oauth::discovery, token::token, resource::userinfo,
          resource::revoke, resource::introspect, clients::dynamic, clients::admin_create, clients::admin_list,
          clients::admin_get, clients::admin_delete, manage::sessions_json, manage::audit_export, resource::userinfo_post,
          authorize::authorize, authorize::authorize_post, authorize::decision, logout::logout_get, logout::logout_post, account::login_form,
          account::login, account::register_form, account::register, account::verify_email, recovery::forgot_form,
          recovery::forgot, recovery::reset_form, recovery::reset, manage::page, manage::revoke_session,
          manage::revoke_consent, manage::change_password, manage::logout, trust::published_list,
          enroll::enroll, enroll::self_revoke, auth::initiate, auth::verify, ws::session_socket, ws::device_socket,
          phone::start, phone::wait, x1280_admin::register_service, x1280_admin::list_services,
          x1280_admin::delete_service, x1280_admin::list_enrollments, x1280_admin::enrollment_detail,
          x1280_admin::revoke_enrollment, x1280_admin::list_sessions, x1280_admin::live_sessions),
    components(schemas(crate::error::ErrorBody, log::InclusionProof, log::ConsistencyProof, log::AuditPage,
                      log::AuditEventView, log::Export, log::ExportedEntry, token::TokenResponse,
                      clients::ClientInfo, manage::SessionInfo, enroll::EnrollRequest, enroll::EnrollResponse,
                      enroll::SelfRevokeRequest, auth::InitiateRequest, auth::InitiateResponse, auth::VerifyRequest,
                      auth::VerifyResponse, x1280_admin::ServiceRequest, x1280_admin::ServiceInfo,
                      x1280_admin::EnrollmentInfo, x1280_admin::SessionInfo, x1280_admin::RevokeRequest)),
    modifiers(&BearerAuth),
    tags((name = "operations", description = "Health, metrics, API description"),
         (name = "keys", description = "Public signing keys"),
         (name = "log", description = "The tamper-evident audit log: checkpoints, tiles, entries, proofs"),
         (name = "admin", description = "Operator API"),
         (name = "oauth", description = "OAuth 2.1 / OpenID Connect provider (docs/oauth.md)"),
         (name = "account", description = "The signed-in user's own account (session cookie)"),
         (name = "trust", description = "Trust lists this server publishes (docs/trust.md)"),
         (name = "passwordless", description = "Passwordless login, ITU-T X.1280 (docs/passwordless.md)"))
)]
struct ApiDoc;

/// The SCAL3 operations (built with the `scal3` feature).
#[cfg(feature = "scal3")]
#[derive(OpenApi)]
#[openapi(
    paths(crate::routes::scal3::provider_key, crate::routes::scal3::enrol, crate::routes::scal3::challenge,
          crate::routes::scal3::prove),
    components(schemas(crate::routes::scal3::EnrolRequest, crate::routes::scal3::ChallengeRequest,
                      crate::routes::scal3::ProveRequest, crate::routes::scal3::ProveResponse)),
    tags((name = "scal3", description = "SCAL3 sole-control evidence (docs/scal3.md; patent NL2037022B1, see NOTICE)"))
)]
struct Scal3Doc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    #[cfg(feature = "scal3")]
    doc.merge(Scal3Doc::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The OpenAPI document as pretty JSON, as committed in `docs/openapi.json`.
pub fn document_json() -> String {
    serde_json::to_string_pretty(&document()).unwrap_or_default() + "\n"
}
