//! Start-up: the master key, the database, the keys; and the state every handler shares.

use std::io::Read as _;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_keys::{KeyRing, KeyStore, MasterKey};
use idseal_store::{ConnectOptions, Store};
use idseal_types::{AuditEvent, AuditEventKind, AuditSink, Clock, UnixTime};
use zeroize::Zeroizing;

use crate::config::Settings;
use crate::metrics::Metrics;

/// Why the server cannot start. Each is a clear message and a non-zero exit, never a silent
/// regeneration of keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The master key is missing, unreadable or malformed.
    #[error("master key: {0}")]
    MasterKey(String),
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] idseal_store::StoreError),
    /// Stored keys cannot be used.
    #[error("signing keys: {0}")]
    Keys(#[from] idseal_keys::KeyError),
    /// The data directory cannot be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The audit log cannot be set up (checkpoint key or pseudonymisation key).
    #[error("audit log: {0}")]
    AuditLog(String),
    /// The trust-list cache cannot be set up.
    #[error("trust lists: {0}")]
    Trust(String),
    /// The push settings cannot be used.
    #[error("push: {0}")]
    Push(String),
    /// The mail settings cannot be used.
    #[error("mail: {0}")]
    Mail(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The trust anchors from the configuration: the Governance List's location and the
/// certificates (PEM or DER files) that may sign it.
fn load_anchors(cfg: &crate::config::TrustConfig) -> Result<Option<Arc<idseal_trust::TrustAnchors>>, StartError> {
    let Some(location) = &cfg.governance_location else { return Ok(None) };
    let mut signers = Vec::new();
    for path in &cfg.governance_signers {
        let bytes = std::fs::read(path)
            .map_err(|e| StartError::Trust(format!("trust.governance_signers: {}: {e}", path.display())))?;
        let der = idseal_vds::certificate::from_pem_or_der(&bytes, "CERTIFICATE")
            .map_err(|e| StartError::Trust(format!("trust.governance_signers: {}: {e}", path.display())))?;
        signers.push(der);
    }
    Ok(Some(Arc::new(idseal_trust::TrustAnchors {
        governance_location: location.clone(),
        governance_signers: signers,
    })))
}

/// The system clock; the only place wall-clock time enters.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // This is the one sanctioned wall-clock read.
    fn now(&self) -> UnixTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        UnixTime::from_secs(secs)
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Store,
    /// The master key.
    pub master: Arc<MasterKey>,
    /// The current key ring (swapped on rotation and refresh).
    pub keys: Arc<RwLock<Arc<KeyRing>>>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Metrics.
    pub metrics: Metrics,
    /// Keys rate-limit bucket ids (derived from the master key).
    pub bucket_key: Arc<idseal_ratelimit::BucketKey>,
    /// The audit log's checkpoint signer (derived from the master key).
    pub log_signer: Arc<idseal_tlog::Ed25519NoteSigner>,
    /// Session, CSRF and pairwise-subject keys (derived from the master key).
    pub oidc: Arc<crate::oidc::OidcSecrets>,
    /// Outgoing mail.
    pub mailer: crate::mail::Mailer,
    /// Password hashes computed at once (each takes `oauth.argon2.memory_kib`).
    pub password_slots: Arc<tokio::sync::Semaphore>,
    /// Fetched, verified trust lists.
    pub trust: Arc<crate::trust_cache::TrustCache>,
    /// What the chain of trust starts from (`trust.governance_location` and its signers); `None`
    /// when not configured (passwordless login answers 503).
    pub anchors: Option<Arc<idseal_trust::TrustAnchors>>,
    /// Passwordless-login keys (derived from the master key).
    pub x1280: Arc<crate::x1280::X1280Secrets>,
    /// FCM push, when a service account is configured.
    pub push: Option<crate::x1280::Push>,
    /// Open WebSockets of this instance, in all and per client address.
    pub sockets: Arc<crate::x1280::SocketSlots>,
    /// The SCAL3 provider keys (derived from the master key).
    #[cfg(feature = "scal3")]
    pub scal3: Arc<idseal_scal3::ProviderSecrets>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

/// What a first start produced, for the operator to see once.
#[derive(Debug, Default)]
pub struct FirstStart {
    /// Key ids generated on this start.
    pub generated_kids: Vec<String>,
    /// The admin bootstrap token, when this start issued it (shown once, stored only hashed).
    pub bootstrap_token: Option<Zeroizing<String>>,
}

impl AppState {
    /// Open everything: data directory, master key, database (migrated), key ring.
    pub async fn open(settings: Settings, clock: Arc<dyn Clock>) -> Result<(Self, FirstStart), StartError> {
        if settings.database_url.starts_with("sqlite:") || settings.config.master_key_file.is_none() {
            ensure_dir(&settings.config.data_dir)?;
        }
        let store = Store::connect(
            &settings.database_url,
            &ConnectOptions {
                max_connections: settings.config.database.max_connections,
                acquire_timeout: Duration::from_secs(settings.config.database.acquire_timeout_secs),
            },
        )
        .await?;
        store.migrate().await?;
        let (master, created_file) = load_master_key(&settings.master_key_file)?;
        let store = store.with_audit_pseudonym_key(master.derive(crate::tlog::PSEUDONYM_KEY_PURPOSE).as_ref())?;
        let log_signer = crate::tlog::checkpoint_signer(&master, &settings.issuer)
            .map_err(|e| StartError::AuditLog(format!("checkpoint key: {e}")))?;
        tracing::info!(verifier_key = %log_signer.verifier().vkey(), "audit log checkpoints are signed by this verifier key");
        let now = clock.now();
        let bootstrap = KeyRing::bootstrap(&store, &master, &settings.algorithms, now).await;
        let (ring, generated_kids) = match bootstrap {
            Ok(v) => v,
            Err(e) => {
                // Only when the database belongs to another key is the file we just made
                // useless: remove it then. After any other failure the database may already
                // record this key's check value (or hold keys sealed under it), so the file
                // must stay, or the deployment could never start again.
                if created_file && matches!(e, idseal_keys::KeyError::MasterKeyMismatch { .. }) {
                    let _ = std::fs::remove_file(&settings.master_key_file);
                }
                return Err(e.into());
            }
        };
        for kid in &generated_kids {
            store.record(&AuditEvent::new(AuditEventKind::KeyGenerate, now, "system").subject(kid.clone())).await?;
        }
        let bucket_key = Arc::new(idseal_ratelimit::BucketKey::new(&master.derive("idseal/ratelimit-bucket")));
        let oidc = crate::oidc::OidcSecrets::derive(&master, &settings.config.oauth.argon2);
        let mailer = match &settings.config.mail.smtp_url {
            Some(_) => {
                let password = std::env::var("IDSEAL_SMTP_PASSWORD").ok().map(Zeroizing::new);
                crate::mail::Mailer::new(&settings.config.mail, password)
                    .map_err(|e| StartError::Mail(e.to_string()))?
            }
            None => {
                tracing::warn!("mail.smtp_url is not set: verification and password-reset mails will not be sent");
                crate::mail::Mailer::disabled()
            }
        };
        // One argon2id hash per core: more would only time-slice memory-bound hashes and thrash
        // the caches (measured: four at once on two cores lose throughput).
        let trust = crate::trust_cache::TrustCache::new(
            Duration::from_secs(settings.config.trust.cache_ttl_secs),
            Duration::from_secs(settings.config.trust.fetch_timeout_secs),
        )
        .map_err(|e| StartError::Trust(e.to_string()))?;
        let slots = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let anchors = load_anchors(&settings.config.trust)?;
        let pl = &settings.config.passwordless;
        let settings_sockets = (pl.max_sockets, pl.max_sockets_per_ip);
        let x1280 = crate::x1280::X1280Secrets::derive(&master).map_err(StartError::Trust)?;
        let push = crate::push::FcmSender::from_config(&settings.config.push, clock.clone())
            .map_err(|e| StartError::Push(e.to_string()))?
            .map(|s| Arc::new(s) as crate::x1280::Push);
        #[cfg(feature = "scal3")]
        let scal3 = Arc::new(crate::routes::scal3::provider(&master).map_err(StartError::Trust)?);
        let state = Self {
            settings: Arc::new(settings),
            store,
            master: Arc::new(master),
            keys: Arc::new(RwLock::new(Arc::new(ring))),
            clock,
            metrics: Metrics::default(),
            bucket_key,
            log_signer: Arc::new(log_signer),
            oidc: Arc::new(oidc),
            mailer,
            password_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            trust: Arc::new(trust),
            anchors,
            x1280: Arc::new(x1280),
            push,
            #[cfg(feature = "scal3")]
            scal3,
            sockets: Arc::new(crate::x1280::SocketSlots::new(settings_sockets.0, settings_sockets.1)),
        };
        state.update_key_gauge();
        let bootstrap_token = state.issue_bootstrap_token().await?;
        Ok((state, FirstStart { generated_kids, bootstrap_token }))
    }

    /// The verifier key of the audit log's checkpoints (C2SP signed-note form), for auditors.
    pub fn log_verifier_key(&self) -> String {
        self.log_signer.verifier().vkey()
    }

    /// The current key ring.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reload the key ring from the database (after a rotation here or elsewhere), and
    /// deactivate keys whose grace period has ended.
    pub async fn refresh_keys(&self) -> Result<Vec<String>, idseal_keys::KeyError> {
        let now = self.clock.now();
        let deactivated = self.store.deactivate_expired(now).await?;
        for kid in &deactivated {
            let ev = AuditEvent::new(AuditEventKind::KeyDeactivate, now, "system").subject(kid.clone());
            self.store.record(&ev).await.map_err(|e| idseal_keys::KeyError::Store(Box::new(e)))?;
        }
        let ring = KeyRing::load(self.store.load_keys().await?, &self.master, now)?;
        match self.keys.write() {
            Ok(mut g) => *g = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        self.update_key_gauge();
        Ok(deactivated)
    }

    fn update_key_gauge(&self) {
        let n = i64::try_from(self.key_ring().jwks().keys.len()).unwrap_or(i64::MAX);
        self.metrics.published_keys.set(n);
    }

    async fn issue_bootstrap_token(&self) -> Result<Option<Zeroizing<String>>, StartError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        SystemRandom::new().fill(raw.as_mut()).map_err(|_| StartError::MasterKey("no randomness".into()))?;
        let token = Zeroizing::new(format!("idseal_admin_{}", B64.encode(raw.as_ref())));
        let now = self.clock.now();
        let hash = token_hash(&token);
        if !self.store.issue_bootstrap_token(&hash, now).await? {
            return Ok(None);
        }
        if let Err(e) = self.store.record(&AuditEvent::new(AuditEventKind::AdminBootstrapToken, now, "system")).await {
            // Unaudited, and about to be lost with this failed start: withdraw it so the next
            // start issues a new one.
            self.store.withdraw_bootstrap_token(&hash).await?;
            return Err(e.into());
        }
        Ok(Some(token))
    }

    /// Withdraw the bootstrap token this start issued, when it could not be shown.
    pub async fn withdraw_bootstrap_token(&self, token: &str) -> Result<(), idseal_store::StoreError> {
        self.store.withdraw_bootstrap_token(&token_hash(token)).await
    }
}

/// The stored form of an admin token: SHA-256, hex. Tokens have 256 bits of entropy, so a
/// plain hash is enough and lookups by hash leak nothing useful through timing.
pub fn token_hash(token: &str) -> String {
    digest(&SHA256, token.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn ensure_dir(dir: &Path) -> Result<(), StartError> {
    let err = |source| StartError::DataDir { path: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}

/// The existing master key, from `IDSEAL_MASTER_KEY` or else `file`; never creates one (for
/// offline tools such as `idseal log verify`).
pub fn read_master_key(file: &Path) -> Result<MasterKey, StartError> {
    if std::env::var_os("IDSEAL_MASTER_KEY").is_none() && !file.exists() {
        return Err(StartError::MasterKey(format!("{} does not exist", file.display())));
    }
    load_master_key(file).map(|(k, _)| k)
}

/// The master key from `IDSEAL_MASTER_KEY`, else from `file`, else a new one written to
/// `file` with mode 0600. Returns whether the file was created now.
fn load_master_key(file: &Path) -> Result<(MasterKey, bool), StartError> {
    if let Ok(v) = std::env::var("IDSEAL_MASTER_KEY") {
        let k = MasterKey::parse(&v).map_err(|e| StartError::MasterKey(format!("IDSEAL_MASTER_KEY: {e}")))?;
        return Ok((k, false));
    }
    let shown = file.display();
    // One open, then every check on that handle (no check-then-read race), and no symlinks:
    // the key file must be a regular file readable by its owner only.
    let opened = match std::fs::symlink_metadata(file) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(StartError::MasterKey(format!("{shown} is a symbolic link; use the file itself")));
        }
        _ => std::fs::File::open(file),
    };
    match opened {
        Ok(mut f) => {
            let meta = f.metadata().map_err(|e| StartError::MasterKey(format!("{shown}: {e}")))?;
            if !meta.is_file() {
                return Err(StartError::MasterKey(format!("{shown} is not a regular file")));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(StartError::MasterKey(format!(
                    "{shown} is readable by group or others; run `chmod 600 {shown}`"
                )));
            }
            let mut text = Zeroizing::new(String::new());
            std::io::Read::take(&mut f, 4096)
                .read_to_string(&mut text)
                .map_err(|e| StartError::MasterKey(format!("cannot read {shown}: {e}")))?;
            let k = MasterKey::parse(&text).map_err(|e| StartError::MasterKey(format!("{shown}: {e}")))?;
            Ok((k, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = MasterKey::generate().map_err(|e| StartError::MasterKey(e.to_string()))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(file)
                .map_err(|e| StartError::MasterKey(format!("cannot create {shown}: {e}")))?;
            f.write_all(k.to_hex().as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .and_then(|()| f.sync_all())
                .map_err(|e| StartError::MasterKey(format!("cannot write {shown}: {e}")))?;
            Ok((k, true))
        }
        Err(e) => Err(StartError::MasterKey(format!("cannot read {shown}: {e}"))),
    }
}
