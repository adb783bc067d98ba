//! The OpenID Provider metadata document (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).

use serde_json::{Value, json};

/// What the discovery document depends on.
#[derive(Clone, Copy, Debug)]
pub struct DiscoveryInput<'a> {
    /// The issuer URL; a trailing `/` is removed.
    pub issuer: &'a str,
    /// The algorithms ID tokens may be signed with (those with an active key).
    pub id_token_algs: &'a [&'a str],
    /// Whether dynamic client registration is on.
    pub registration: bool,
}

/// The discovery document served at `/.well-known/openid-configuration`.
pub fn document(i: &DiscoveryInput<'_>) -> Value {
    let iss = i.issuer.strip_suffix('/').unwrap_or(i.issuer);
    let mut doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "introspection_endpoint": format!("{iss}/oauth/introspect"),
        "end_session_endpoint": format!("{iss}/oauth/logout"),
        "scopes_supported": crate::scope::supported(),
        "acr_values_supported": ["http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial",
                                 "http://eidas.europa.eu/LoA/high"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": i.id_token_algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
                             "name", "updated_at", "email", "email_verified", "given_name", "family_name",
                             "birthdate", "nationality", "document_number", "picture", "trust_level",
                             "age_over_18", "age_over_21", "age_over_25", "age_range", "is_eu_citizen",
                             "name_initial"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "acr_values_supported": ["http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial",
                                 "http://eidas.europa.eu/LoA/high"],
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    });
    if i.registration
        && let Some(m) = doc.as_object_mut()
    {
        m.insert("registration_endpoint".into(), format!("{iss}/oauth/register").into());
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_shape() {
        let d = document(&DiscoveryInput {
            issuer: "https://id.example/",
            id_token_algs: &["RS256", "ML-DSA-65"],
            registration: false,
        });
        assert_eq!(d["issuer"], "https://id.example");
        assert_eq!(d["authorization_endpoint"], "https://id.example/oauth/authorize");
        assert_eq!(d["jwks_uri"], "https://id.example/.well-known/jwks.json");
        assert_eq!(d["end_session_endpoint"], "https://id.example/oauth/logout");
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256", "ML-DSA-65"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(d["scopes_supported"], json!(crate::scope::supported()));
        assert!(d["scopes_supported"].as_array().unwrap().iter().any(|s| s == "identity:age_over_18"));
        assert!(
            json!(crate::scope::KNOWN)
                .as_array()
                .unwrap()
                .iter()
                .all(|k| d["scopes_supported"].as_array().unwrap().contains(k))
        );
        assert!(d.get("registration_endpoint").is_none());
        assert!(d.get("userinfo_signing_alg_values_supported").is_none());
        let d = document(&DiscoveryInput { issuer: "https://id.example", id_token_algs: &[], registration: true });
        assert_eq!(d["registration_endpoint"], "https://id.example/oauth/register");
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    }
}
