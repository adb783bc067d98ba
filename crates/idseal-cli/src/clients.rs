//! `idseal clients add|list|remove`: OAuth client registration on the database, like
//! `idseal keys` (the admin API offers the same over HTTP).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use idseal_oauth::client::ClientMetadata;
use idseal_server::error::ApiError;
use idseal_types::{AuditEvent, AuditEventKind, AuditSink};

use crate::cli::{ConfigArgs, announce, open};

macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `idseal clients …`.
#[derive(Subcommand)]
pub(crate) enum ClientsCommand {
    /// Register a client; prints its id and, for a confidential client, its secret (once).
    Add {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Display name (shown on the consent page).
        #[arg(long)]
        name: String,
        /// An exact redirect URI (repeat for more).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// An exact post-logout redirect URI (repeat for more).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Allowed scopes, space-separated (default: openid profile email offline_access).
        #[arg(long)]
        scope: Option<String>,
        /// client_secret_basic (default), client_secret_post, or none (a public client).
        #[arg(long)]
        auth_method: Option<String>,
        /// Allowed grant types (repeat; default authorization_code and refresh_token).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// ID token algorithm: RS256 (default), ES256, EdDSA or ML-DSA-65.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// pairwise (default) or public.
        #[arg(long)]
        subject_type: Option<String>,
        /// JSON output (RFC 7591 response names).
        #[arg(long)]
        json: bool,
    },
    /// List registered clients.
    List {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client; its grants are revoked and its consents dropped.
    Remove {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// The client id.
        client_id: String,
    },
}

pub(crate) async fn run(cmd: ClientsCommand) -> ExitCode {
    match cmd {
        ClientsCommand::Add {
            cfg,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            scope,
            auth_method,
            grant_types,
            id_token_alg,
            subject_type,
            json,
        } => {
            let meta = ClientMetadata {
                client_name: Some(name),
                redirect_uris,
                post_logout_redirect_uris,
                token_endpoint_auth_method: auth_method,
                grant_types: (!grant_types.is_empty()).then_some(grant_types),
                response_types: None,
                scope,
                id_token_signed_response_alg: id_token_alg,
                subject_type,
            };
            let (st, first) = match open(&cfg).await {
                Ok(v) => v,
                Err(c) => return c,
            };
            if let Err(code) = announce(&st, &first, json).await {
                return code;
            }
            let new = match idseal_server::routes::oauth::clients::register_client(&st, &meta, false).await {
                Ok(n) => n,
                Err(ApiError::OAuth(e)) => {
                    eprintln!("error: {}: {}", e.code(), e.description());
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let ev = AuditEvent::new(AuditEventKind::ClientRegister, st.clock.now(), "cli")
                .subject(new.client.client_id.clone())
                .details(serde_json::json!({"name": new.client.name, "redirect_uris": new.client.redirect_uris}));
            if let Err(e) = st.store.record(&ev).await {
                eprintln!("error: audit log: {e}");
                return ExitCode::FAILURE;
            }
            let c = &new.client;
            if json {
                out!(
                    "{}",
                    serde_json::json!({
                        "client_id": c.client_id, "client_secret": new.secret.as_ref().map(|s| s.as_str()),
                        "client_name": c.name, "redirect_uris": c.redirect_uris,
                        "post_logout_redirect_uris": c.post_logout_redirect_uris,
                        "token_endpoint_auth_method": c.auth_method.as_str(), "scope": c.scopes.to_string(),
                        "id_token_signed_response_alg": c.id_token_alg.as_str(), "subject_type": c.subject_type.as_str(),
                    })
                );
            } else {
                out!("client_id     {}", c.client_id);
                if let Some(s) = &new.secret {
                    out!("client_secret {}", s.as_str());
                    out!("(the secret is shown once; only its hash is stored)");
                }
            }
            ExitCode::SUCCESS
        }
        ClientsCommand::List { cfg, json } => {
            let (st, first) = match open(&cfg).await {
                Ok(v) => v,
                Err(c) => return c,
            };
            if let Err(code) = announce(&st, &first, json).await {
                return code;
            }
            let rows = match st.store.list_clients().await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({"client_id": r.client_id, "client_name": r.name, "redirect_uris": r.redirect_uris,
                        "token_endpoint_auth_method": r.auth_method, "scope": r.scopes, "dynamic": r.dynamic,
                        "created_at": r.created_at.as_secs()})
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                out!("{:<28} {:<20} {:<22} REDIRECT URIS", "CLIENT ID", "AUTH", "NAME");
                for r in rows {
                    out!("{:<28} {:<20} {:<22} {}", r.client_id, r.auth_method, r.name, r.redirect_uris.join(" "));
                }
            }
            ExitCode::SUCCESS
        }
        ClientsCommand::Remove { cfg, client_id } => {
            let (st, first) = match open(&cfg).await {
                Ok(v) => v,
                Err(c) => return c,
            };
            if let Err(code) = announce(&st, &first, false).await {
                return code;
            }
            let now = st.clock.now();
            match st.store.delete_client(&client_id, now).await {
                Ok(true) => {}
                Ok(false) => {
                    eprintln!("error: no client {client_id}");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
            let ev = AuditEvent::new(AuditEventKind::ClientRemove, now, "cli").subject(client_id.clone());
            if let Err(e) = st.store.record(&ev).await {
                eprintln!("error: audit log: {e}");
                return ExitCode::FAILURE;
            }
            out!("removed {client_id}; its grants are revoked");
            ExitCode::SUCCESS
        }
    }
}
