//! `idseal log verify --url`: check a whole audit log from a server's public endpoints
//! (docs/audit-log.md, "Verification"): the latest signed checkpoint, the C2SP tlog-tiles
//! entry bundles and hash tiles.
//!
//! It opens the checkpoint with the verifier key (given, or fetched from the server: trust on
//! first use), recomputes every leaf hash from the entry bundles, rebuilds the tree, checks
//! every served hash tile against it and the checkpoint's root against the recomputed root.
//! It reports the first entry index where anything is wrong (exit 1).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use idseal_tlog::tiles::{TILE_HEIGHT, TILE_WIDTH, Tile, TileKind, parse_entry_bundle};
use idseal_tlog::{Checkpoint, HASH_LEN, HashReader as _, MemoryTree, NoteVerifier, Subtree};

/// Largest checkpoint or verifier key accepted.
const MAX_SMALL: usize = 64 * 1024;
/// Largest entry bundle accepted: 256 entries of at most 65535 bytes, each with 2 length bytes.
const MAX_BUNDLE: usize = 256 * (2 + 65535);
/// Largest hash tile accepted.
const MAX_TILE: usize = 256 * HASH_LEN;

/// Why the check stopped: it could not run (exit 2), or the log is wrong (exit 1).
enum Failure {
    Usage(String),
    Invalid { index: u64, what: String },
}

fn invalid(index: u64, what: impl Into<String>) -> Failure {
    Failure::Invalid { index, what: what.into() }
}

pub(crate) async fn run(url: &str, verifier_key: Option<String>) -> ExitCode {
    match verify(url, verifier_key).await {
        Ok(n) => {
            let _ = writeln!(std::io::stdout(), "ok: {n} entries");
            ExitCode::SUCCESS
        }
        Err(Failure::Invalid { index, what }) => {
            let _ = writeln!(std::io::stdout(), "FAILED at entry {index}: {what}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

struct Fetcher {
    client: reqwest::Client,
    base: String,
}

impl Fetcher {
    fn new(url: &str) -> Result<Self, Failure> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Usage(format!("--url must be an http:// or https:// URL: {url}")));
        }
        let client = idseal_server::http::client_builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Failure::Usage(format!("HTTP client: {e}")))?;
        Ok(Self { client, base })
    }

    /// GET `{base}/log/{path}`: the body of a 200 answer of at most `cap` bytes.
    async fn get(&self, path: &str, cap: usize) -> Result<Vec<u8>, String> {
        let url = format!("{}/log/{path}", self.base);
        let mut r = self.client.get(&url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        if r.status() != reqwest::StatusCode::OK {
            return Err(format!("GET {url}: status {}", r.status()));
        }
        if r.content_length().is_some_and(|n| n > cap as u64) {
            return Err(format!("GET {url}: answer larger than {cap} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > cap {
                return Err(format!("GET {url}: answer larger than {cap} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

async fn verify(url: &str, verifier_key: Option<String>) -> Result<u64, Failure> {
    let f = Fetcher::new(url)?;
    let vkey = match verifier_key {
        Some(v) => v,
        None => {
            let body = f.get("verifier-key", MAX_SMALL).await.map_err(Failure::Usage)?;
            let v = String::from_utf8(body).map_err(|_| Failure::Usage("the verifier key is not UTF-8".into()))?;
            let v = v.trim().to_owned();
            eprintln!(
                "warning: no --verifier-key: trusting the key the server itself serves ({v}); this only \
                 checks the log against the server's own claim (trust on first use), pass --verifier-key \
                 from an independent source"
            );
            v
        }
    };
    let verifier = NoteVerifier::from_vkey(&vkey).map_err(|e| Failure::Usage(format!("verifier key: {e}")))?;
    let note = f.get("checkpoint", MAX_SMALL).await.map_err(Failure::Usage)?;
    let cp = Checkpoint::open(&note, verifier.name(), std::slice::from_ref(&verifier))
        .map_err(|e| invalid(0, format!("checkpoint: {e}")))?;
    let size = cp.size();

    // Entry bundles: every leaf hash recomputed from the entry bytes.
    let mut tree = MemoryTree::new();
    let mut n = 0u64;
    while tree.size() < size {
        let tile = Tile::in_tree(TileKind::Entries, n, size)
            .ok_or_else(|| Failure::Usage(format!("no entry bundle {n} in a tree of {size}")))?;
        let first = n * TILE_WIDTH;
        let body = f.get(&tile.path(), MAX_BUNDLE).await;
        let body = body.map_err(|e| invalid(first, e))?;
        let entries =
            parse_entry_bundle(&body).map_err(|e| invalid(first, format!("entry bundle {}: {e}", tile.path())))?;
        for e in &entries {
            tree.append(e);
        }
        if entries.len() != usize::from(tile.width()) {
            let at = first + entries.len().min(usize::from(tile.width())) as u64;
            return Err(invalid(
                at,
                format!("entry bundle {} holds {} entries, not {}", tile.path(), entries.len(), tile.width()),
            ));
        }
        n += 1;
    }

    // Hash tiles: every served hash must be the recomputed one.
    let mut bad: Option<(u64, String)> = None;
    for level in 0..=idseal_tlog::tiles::MAX_TILE_LEVEL {
        if Tile::in_tree(TileKind::Hashes { level }, 0, size).is_none() {
            break;
        }
        let tree_level = level * TILE_HEIGHT;
        let mut n = 0u64;
        while let Some(tile) = Tile::in_tree(TileKind::Hashes { level }, n, size) {
            let first_hash = n * TILE_WIDTH;
            let first_leaf = first_hash << tree_level;
            let body = f.get(&tile.path(), MAX_TILE).await;
            let body = body.map_err(|e| invalid(first_leaf, e))?;
            if body.len() != usize::from(tile.width()) * HASH_LEN {
                let what = format!("hash tile {}: {} bytes for {} hashes", tile.path(), body.len(), tile.width());
                note_bad(&mut bad, first_leaf, what);
            }
            for (i, h) in body.chunks_exact(HASH_LEN).enumerate() {
                let index = first_hash + i as u64;
                let want = tree
                    .subtree_hash(Subtree { level: tree_level, index })
                    .map_err(|e| Failure::Usage(format!("recomputed tree: {e}")))?;
                if h != want.as_slice() {
                    note_bad(&mut bad, index << tree_level, format!("hash {i} of tile {} is wrong", tile.path()));
                    break;
                }
            }
            n += 1;
        }
    }
    if let Some((index, what)) = bad {
        return Err(invalid(index, what));
    }
    let root = tree.root_at(size).map_err(|e| Failure::Usage(format!("recomputed tree: {e}")))?;
    if &root != cp.root() {
        return Err(invalid(0, format!("entries 0..{size} do not match the checkpoint's root")));
    }
    Ok(size)
}

/// Keep the finding with the lowest entry index.
fn note_bad(bad: &mut Option<(u64, String)>, index: u64, what: String) {
    if bad.as_ref().is_none_or(|(i, _)| index < *i) {
        *bad = Some((index, what));
    }
}
