//! The tamper-evident audit log over HTTP (docs/audit-log.md, "HTTP").
//!
//! Public and read-only: the latest signed checkpoint, the verifier key, C2SP tlog-tiles (hash
//! tiles and entry bundles), single entries and RFC 9162 inclusion and consistency proofs, all
//! bounded by the latest checkpoint so that everything served is committed to by a signature.
//! Admin (bearer): sign a checkpoint now, the auditor query and the right-of-access export.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use idseal_store::{AuditQuery, StoreError, StoredCheckpoint};
use idseal_tlog::TlogError;
use idseal_tlog::tiles::{TILE_HEIGHT, TILE_WIDTH, Tile, TileKind, entry_bundle};
use serde::Serialize;

use crate::error::ApiError;
use crate::routes::admin::Admin;
use crate::state::AppState;

/// Cache policy of the checkpoint: always revalidate.
const CACHE_CHECKPOINT: &str = "no-cache";
/// Cache policy of full tiles and entries: they never change.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache policy of partial tiles: replaced by wider ones as the log grows.
const CACHE_PARTIAL: &str = "public, max-age=60";
/// Cache policy of the verifier key.
const CACHE_KEY: &str = "public, max-age=3600";
/// Most audit rows per page.
const MAX_AUDIT_LIMIT: u32 = 500;
/// Most entries in one export response (the rest through `from_index`).
const MAX_EXPORT: usize = 1000;
/// Longest subject accepted by the export and the audit query.
const MAX_SUBJECT: usize = 1024;

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;
type PathParam = Result<Path<String>, PathRejection>;

/// A path parameter; a malformed one (invalid UTF-8 after percent-decoding) is a JSON 400.
fn path_param(p: PathParam) -> Result<String, ApiError> {
    p.map(|Path(v)| v).map_err(|_| ApiError::InvalidRequest("malformed path".into()))
}

/// The query parameters, refusing malformed encodings, unknown names and repeated names.
fn params(q: Params, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let Query(pairs) = q.map_err(|_| ApiError::InvalidRequest("malformed query string".into()))?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            let name: String = k.chars().filter(|c| !c.is_control()).take(40).collect();
            return Err(ApiError::InvalidRequest(format!(
                "unknown query parameter `{name}` (allowed: {})",
                allowed.join(", ")
            )));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(ApiError::InvalidRequest(format!("query parameter `{k}` is repeated")));
        }
    }
    Ok(out)
}

/// A strict unsigned decimal (`0` to `2^64 - 1`, digits only).
fn decimal(name: &str, v: &str) -> Result<u64, ApiError> {
    let bad = || ApiError::InvalidRequest(format!("`{name}` must be a decimal integer from 0 to 18446744073709551615"));
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    v.parse().map_err(|_| bad())
}

fn required(p: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    let v = p.get(name).ok_or_else(|| ApiError::InvalidRequest(format!("`{name}` is required")))?;
    decimal(name, v)
}

fn optional_i64(p: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    p.get(name)
        .map(|v| {
            decimal(name, v)
                .and_then(|n| i64::try_from(n).map_err(|_| ApiError::InvalidRequest(format!("`{name}` is too large"))))
        })
        .transpose()
}

/// The latest checkpoint; the first one is signed on demand so that a new deployment serves
/// one before the background task's first run.
async fn latest(st: &AppState) -> Result<StoredCheckpoint, ApiError> {
    match st.store.tlog_latest_checkpoint().await.map_err(ApiError::internal)? {
        Some(cp) => Ok(cp),
        None => crate::tlog::sign_checkpoint(st).await.map_err(ApiError::internal),
    }
}

fn b64(h: &[u8]) -> String {
    B64.encode(h)
}

fn public(content_type: &'static str, cache: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// The latest signed checkpoint (C2SP tlog-checkpoint signed note).
#[utoipa::path(get, path = "/log/checkpoint", tag = "log",
    responses((status = 200, body = String, content_type = "text/plain; charset=utf-8",
               description = "The signed note")))]
pub async fn checkpoint(State(st): State<AppState>) -> Result<Response, ApiError> {
    let cp = latest(&st).await?;
    Ok(public("text/plain; charset=utf-8", CACHE_CHECKPOINT, cp.note))
}

/// The note verifier key that signs the checkpoints (`<name>+<key id>+<base64 key>`).
#[utoipa::path(get, path = "/log/verifier-key", tag = "log",
    responses((status = 200, body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn verifier_key(State(st): State<AppState>) -> Response {
    public("text/plain; charset=utf-8", CACHE_KEY, format!("{}\n", st.log_verifier_key()))
}

/// A C2SP tlog-tiles tile: `tile/<L>/<N>[.p/<W>]` (hashes) or `tile/entries/<N>[.p/<W>]` (an
/// entry bundle), within the latest checkpoint.
#[utoipa::path(get, path = "/log/tile/{path}", tag = "log",
    params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in 3-digit groups (`x001/234`)")),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn tile(State(st): State<AppState>, rest: PathParam) -> Result<Response, ApiError> {
    let rest = path_param(rest)?;
    let requested = Tile::parse(&format!("tile/{rest}")).map_err(|e| match e {
        TlogError::TileOutOfRange => ApiError::NotFound,
        TlogError::InvalidTilePath(why) => ApiError::InvalidRequest(format!("malformed tile path: {why}")),
        _ => ApiError::InvalidRequest("malformed tile path".into()),
    })?;
    let size = latest(&st).await?.size;
    let available = Tile::in_tree(requested.kind(), requested.index(), size).ok_or(ApiError::NotFound)?;
    if requested.width() > available.width() {
        return Err(ApiError::NotFound);
    }
    let start = requested.index().checked_mul(TILE_WIDTH).ok_or(ApiError::NotFound)?;
    let width = requested.width();
    let body = match requested.kind() {
        TileKind::Hashes { level } => {
            let tree_level = level.checked_mul(TILE_HEIGHT).ok_or(ApiError::NotFound)?;
            let hashes = st.store.tlog_tile_hashes(tree_level, start, width).await.map_err(ApiError::internal)?;
            hashes.concat()
        }
        TileKind::Entries => {
            let entries = st.store.tlog_entries(start, u32::from(width)).await.map_err(ApiError::internal)?;
            let contiguous = entries.len() == usize::from(width) && (start..).zip(&entries).all(|(i, e)| e.index == i);
            if !contiguous {
                return Err(ApiError::internal(format!("log entries missing from {start}")));
            }
            let data: Vec<&[u8]> = entries.iter().map(|e| e.data.as_slice()).collect();
            entry_bundle(&data).map_err(ApiError::internal)?
        }
    };
    let cache = if requested.is_partial() { CACHE_PARTIAL } else { CACHE_IMMUTABLE };
    Ok(public("application/octet-stream", cache, body))
}

/// One entry's bytes (within the latest checkpoint); `X-Leaf-Hash` carries its leaf hash (base64).
#[utoipa::path(get, path = "/log/entries/{index}", tag = "log",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn entry(State(st): State<AppState>, index: PathParam) -> Result<Response, ApiError> {
    let index = decimal("index", &path_param(index)?)?;
    let size = latest(&st).await?.size;
    if index >= size {
        return Err(ApiError::NotFound);
    }
    let e = st.store.tlog_entry(index).await.map_err(ApiError::internal)?.ok_or(ApiError::NotFound)?;
    let mut r = public("application/octet-stream", CACHE_IMMUTABLE, e.data);
    if let Ok(v) = header::HeaderValue::from_str(&b64(&e.leaf_hash)) {
        r.headers_mut().insert("x-leaf-hash", v);
    }
    Ok(r)
}

/// An inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The root of that tree (base64).
    pub root: String,
    /// The RFC 9162 audit path, leaf side first (base64).
    pub hashes: Vec<String>,
}

/// A consistency proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The RFC 9162 consistency proof (base64).
    pub hashes: Vec<String>,
}

fn check_size(name: &str, n: u64, latest: u64) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::InvalidRequest(format!("`{name}` must be at least 1")));
    }
    if n > latest {
        return Err(ApiError::InvalidRequest(format!("`{name}` exceeds the latest checkpoint size {latest}")));
    }
    Ok(())
}

fn b64_all(hashes: &[idseal_tlog::Hash]) -> Vec<String> {
    hashes.iter().map(|h| b64(h)).collect()
}

/// The proof that entry `index` is in the tree of `size` entries (size ≤ the latest checkpoint).
#[utoipa::path(get, path = "/log/proof/inclusion", tag = "log",
    params(("index" = u64, Query, description = "Entry index, below size"),
           ("size" = u64, Query, description = "Tree size, 1 to the latest checkpoint size")),
    responses((status = 200, body = InclusionProof), (status = 400, body = crate::error::ErrorBody)))]
pub async fn inclusion(State(st): State<AppState>, q: Params) -> Result<Response, ApiError> {
    let p = params(q, &["index", "size"])?;
    let (index, size) = (required(&p, "index")?, required(&p, "size")?);
    check_size("size", size, latest(&st).await?.size)?;
    if index >= size {
        return Err(ApiError::InvalidRequest("`index` must be below `size`".into()));
    }
    let root = st.store.tlog_root(size).await.map_err(ApiError::internal)?;
    let hashes = st.store.tlog_inclusion_proof(index, size).await.map_err(ApiError::internal)?;
    let body = InclusionProof { index, size, root: b64(&root), hashes: b64_all(&hashes) };
    Ok(public("application/json", CACHE_IMMUTABLE, Json(body)))
}

/// The proof that the tree of `from` entries is a prefix of the tree of `to` entries.
#[utoipa::path(get, path = "/log/proof/consistency", tag = "log",
    params(("from" = u64, Query, description = "Older size, 1 to `to`"),
           ("to" = u64, Query, description = "Newer size, up to the latest checkpoint size")),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = crate::error::ErrorBody)))]
pub async fn consistency(State(st): State<AppState>, q: Params) -> Result<Response, ApiError> {
    let p = params(q, &["from", "to"])?;
    let (from, to) = (required(&p, "from")?, required(&p, "to")?);
    check_size("to", to, latest(&st).await?.size)?;
    if from == 0 || from > to {
        return Err(ApiError::InvalidRequest("`from` must be from 1 to `to`".into()));
    }
    let hashes = st.store.tlog_consistency_proof(from, to).await.map_err(ApiError::internal)?;
    Ok(public("application/json", CACHE_IMMUTABLE, Json(ConsistencyProof { from, to, hashes: b64_all(&hashes) })))
}

/// Sign a checkpoint of the log as it is now (or return the latest, when it covers the log).
#[utoipa::path(post, path = "/admin/log/checkpoint", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = String, content_type = "text/plain; charset=utf-8"),
              (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn sign_now(State(st): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let cp = crate::tlog::sign_checkpoint(&st).await.map_err(|e| match e {
        StoreError::Fork { .. } => ApiError::internal("the log forked: refusing to sign"),
        e => ApiError::internal(e),
    })?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], cp.note).into_response())
}

/// An audit row as the auditor query shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEventView {
    /// Row id (ascending; use as `after_id`).
    pub id: i64,
    /// Event kind.
    pub kind: String,
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// About what or whom.
    pub subject: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Details.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of audit rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Rows by id ascending.
    pub events: Vec<AuditEventView>,
    /// Pass as `after_id` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_id: Option<i64>,
}

fn bounded_text(p: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() || v.len() > MAX_SUBJECT || v.chars().any(char::is_control) => Err(
            ApiError::InvalidRequest(format!("`{name}` must be 1 to {MAX_SUBJECT} bytes without control characters")),
        ),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// The auditor query over the audit events: every filter optional, paginated by `after_id`.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("bearer" = [])),
    params(("kind" = Option<String>, Query, description = "Event kind, e.g. KEY_ROTATE"),
           ("subject" = Option<String>, Query, description = "Subject as recorded"),
           ("since" = Option<i64>, Query, description = "From this Unix time (inclusive)"),
           ("until" = Option<i64>, Query, description = "Up to this Unix time (inclusive)"),
           ("limit" = Option<u32>, Query, description = "1 to 500, default 100"),
           ("after_id" = Option<i64>, Query, description = "Only rows after this id")),
    responses((status = 200, body = AuditPage), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn audit(State(st): State<AppState>, _admin: Admin, q: Params) -> Result<Json<AuditPage>, ApiError> {
    let p = params(q, &["kind", "subject", "since", "until", "limit", "after_id"])?;
    let kind = p.get("kind").cloned();
    if let Some(k) = &kind
        && (k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
    {
        return Err(ApiError::InvalidRequest("`kind` must be an event kind such as KEY_ROTATE".into()));
    }
    let limit = match p.get("limit") {
        None => 100,
        Some(v) => {
            let n = decimal("limit", v)?;
            u32::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_AUDIT_LIMIT).contains(n))
                .ok_or_else(|| ApiError::InvalidRequest(format!("`limit` must be from 1 to {MAX_AUDIT_LIMIT}")))?
        }
    };
    let query = AuditQuery {
        kind,
        subject: bounded_text(&p, "subject")?,
        since: optional_i64(&p, "since")?,
        until: optional_i64(&p, "until")?,
        after_id: optional_i64(&p, "after_id")?,
        limit,
    };
    if let (Some(a), Some(b)) = (query.since, query.until)
        && a > b
    {
        return Err(ApiError::InvalidRequest("`since` must not be after `until`".into()));
    }
    let rows = st.store.audit_query(&query).await.map_err(ApiError::internal)?;
    let full = rows.len() == limit as usize;
    let events: Vec<AuditEventView> = rows
        .into_iter()
        .map(|r| AuditEventView {
            id: r.id,
            kind: r.kind,
            at: r.at.as_secs(),
            actor: r.actor,
            subject: r.subject,
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details,
        })
        .collect();
    let next_after_id = if full { events.last().map(|e| e.id) } else { None };
    Ok(Json(AuditPage { events, next_after_id }))
}

/// One exported entry with its inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportedEntry {
    /// Its index in the log.
    pub index: u64,
    /// The entry bytes (base64).
    pub entry: String,
    /// The inclusion proof against the export's checkpoint (base64).
    pub inclusion_proof: Vec<String>,
}

/// A right-of-access export.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Export {
    /// The subject's pseudonym (hex) as it appears in the entries.
    pub subject_pseudonym: String,
    /// The signed checkpoint every proof is against.
    pub checkpoint: String,
    /// Its tree size.
    pub size: u64,
    /// Its root (base64).
    pub root: String,
    /// The subject's entries, by index.
    pub entries: Vec<ExportedEntry>,
    /// When more entries follow: pass as `from_index` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_index: Option<u64>,
}

/// Right of access: every log entry about a subject, each with an inclusion proof against a
/// checkpoint signed now (so the export is complete), and that checkpoint.
#[utoipa::path(get, path = "/admin/audit/export", tag = "admin", security(("bearer" = [])),
    params(("subject" = String, Query, description = "The subject as recorded in the audit events"),
           ("from_index" = Option<u64>, Query, description = "Continue from this log index")),
    responses((status = 200, body = Export), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn export(State(st): State<AppState>, _admin: Admin, q: Params) -> Result<Json<Export>, ApiError> {
    let p = params(q, &["subject", "from_index"])?;
    let subject =
        bounded_text(&p, "subject")?.ok_or_else(|| ApiError::InvalidRequest("`subject` is required".into()))?;
    let from = p.get("from_index").map(|v| decimal("from_index", v)).transpose()?.unwrap_or(0);
    subject_export(&st, &subject, from).await.map(Json)
}

/// Every log entry about `subject` from log index `from` (at most a page), each with its
/// inclusion proof against a checkpoint signed now, so that the export is complete.
pub async fn subject_export(st: &AppState, subject: &str, from: u64) -> Result<Export, ApiError> {
    let cp = crate::tlog::sign_checkpoint(st).await.map_err(ApiError::internal)?;
    let pseudonym = st.store.audit_subject_pseudonym(subject).map_err(ApiError::internal)?;
    let limit = u32::try_from(MAX_EXPORT + 1).unwrap_or(u32::MAX);
    let mut rows = if from < cp.size {
        st.store.tlog_entries_by_subject(&pseudonym, from, cp.size, limit).await.map_err(ApiError::internal)?
    } else {
        Vec::new()
    };
    let next_index = if rows.len() > MAX_EXPORT { rows.pop().map(|e| e.index) } else { None };
    let mut entries = Vec::with_capacity(rows.len());
    for e in rows {
        let proof = st.store.tlog_inclusion_proof(e.index, cp.size).await.map_err(ApiError::internal)?;
        entries.push(ExportedEntry { index: e.index, entry: b64(&e.data), inclusion_proof: b64_all(&proof) });
    }
    Ok(Export {
        subject_pseudonym: pseudonym,
        checkpoint: cp.note,
        size: cp.size,
        root: b64(&cp.root),
        entries,
        next_index,
    })
}
