//! `idseal log verify`: check a whole audit log offline, from the database (docs/audit-log.md,
//! "Verification"); `idseal log proof` is in [`crate::log_proof`].
//!
//! It reads every entry, recomputes every leaf hash from the entry bytes and every stored
//! subtree hash from the leaves, opens every checkpoint with the log's verifier key and checks
//! its root against the recomputed tree, and checks the consistency of each checkpoint with the
//! one before. It reports the first entry index where anything is wrong (exit 1).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use idseal_store::{ConnectOptions, Store, StoreError};
use idseal_tlog::proof::{self, verify_consistency};
use idseal_tlog::{Checkpoint, HashReader as _, MemoryTree, NoteVerifier, Subtree, hash};

use crate::cli::ConfigArgs;

// Declared here rather than in main.rs so that the log commands stay together.
#[path = "log_http.rs"]
mod log_http;

/// Rows read per query.
const PAGE: u32 = 2000;

#[derive(Subcommand)]
pub(crate) enum LogCommand {
    /// Check every entry, hash and checkpoint of the log in the database (or, with `--url`,
    /// from a server's checkpoint and tiles); exit 1 naming the first entry where anything is
    /// wrong.
    Verify {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// The log's verifier key (`<name>+<id>+<key>`); default: derived from the master key
        /// (with `--url`: fetched from the server, trust on first use).
        #[arg(long)]
        verifier_key: Option<String>,
        /// Verify over HTTP from the server at this base URL (`http://host:port`): its latest
        /// checkpoint, entry bundles and hash tiles, instead of the database.
        #[arg(long)]
        url: Option<String>,
    },
    /// Print one inclusion or consistency proof from the database, checked before it is
    /// printed (exit 1 if it does not verify).
    Proof {
        #[command(subcommand)]
        command: crate::log_proof::ProofCommand,
    },
}

/// Something wrong with the entries `[index, end)`; `index` is the first entry it names.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Problem {
    index: u64,
    end: u64,
    what: String,
    /// Found past the entries read: harmless if the log has grown that far meanwhile (a
    /// live server appends while we read), a truncation otherwise.
    beyond: bool,
}

impl Problem {
    fn at(index: u64, what: String) -> Self {
        Self { index, end: index.saturating_add(1), what, beyond: false }
    }

    fn range(index: u64, end: u64, what: String) -> Self {
        Self { index, end: end.max(index.saturating_add(1)), what, beyond: false }
    }

    fn beyond(index: u64, end: u64, what: String) -> Self {
        Self { beyond: true, ..Self::range(index, end, what) }
    }

    fn width(&self) -> u64 {
        self.end - self.index
    }

    /// Whether `other` names a narrower range inside this one (and so explains it: a wrong
    /// entry makes every hash and checkpoint above it wrong too).
    fn explained_by(&self, other: &Self) -> bool {
        other.index >= self.index && other.end <= self.end && other.width() < self.width()
    }
}

/// Keep the most precise problems, first entry first.
fn most_precise(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.truncate(MAX_PROBLEMS);
    let keep: Vec<bool> = problems.iter().map(|p| !problems.iter().any(|q| p.explained_by(q))).collect();
    let mut out: Vec<Problem> = problems.into_iter().zip(keep).filter_map(|(p, k)| k.then_some(p)).collect();
    out.sort();
    out
}

/// Problems collected at most (the earliest entries come first in each pass).
const MAX_PROBLEMS: usize = 1000;

/// What a clean log holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    entries: u64,
    checkpoints: u64,
}

pub(crate) async fn run(cmd: LogCommand) -> ExitCode {
    let (cfg, verifier_key) = match cmd {
        LogCommand::Verify { url: Some(url), verifier_key, .. } => {
            return log_http::run(&url, verifier_key).await;
        }
        LogCommand::Verify { cfg, verifier_key, url: None } => (cfg, verifier_key),
        LogCommand::Proof { command } => return crate::log_proof::run(command).await,
    };
    let settings = match cfg.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let verifier = match verifier_key {
        Some(v) => NoteVerifier::from_vkey(&v).map_err(|e| format!("--verifier-key: {e}")),
        None => idseal_server::state::read_master_key(&settings.master_key_file)
            .map_err(|e| e.to_string())
            .and_then(|m| idseal_server::tlog::checkpoint_verifier(&m, &settings.issuer).map_err(|e| e.to_string())),
    };
    let verifier = match verifier {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match read_store(&settings.database_url).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = verify(&store, &verifier).await;
    store.close().await;
    match result {
        Ok(Ok(s)) => {
            let _ = writeln!(std::io::stdout(), "ok: {} entries, {} checkpoints", s.entries, s.checkpoints);
            ExitCode::SUCCESS
        }
        Ok(Err(problems)) => {
            if let Some(first) = problems.first() {
                let _ = writeln!(std::io::stdout(), "FAILED at entry {}: {}", first.index, first.what);
            }
            for p in problems.iter().skip(1).take(20) {
                eprintln!("also at entry {}: {}", p.index, p.what);
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: cannot read the log: {e}");
            ExitCode::from(2)
        }
    }
}

/// Check the whole log. The inner `Err` lists every problem found, first entry index first.
pub(crate) async fn verify(
    store: &Store,
    verifier: &NoteVerifier,
) -> Result<Result<Summary, Vec<Problem>>, StoreError> {
    let mut problems = Vec::new();
    let mut tree = MemoryTree::new();
    // Entries, in index order, rebuilt into a tree from their bytes alone.
    'entries: loop {
        let page = store.tlog_entries(tree.size(), PAGE).await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            let expected = tree.size();
            if e.index != expected {
                problems.push(Problem::at(expected, format!("entry {expected} is missing")));
                break 'entries;
            }
            if e.leaf_hash != hash::leaf_hash(&e.data) {
                problems.push(Problem::at(e.index, "stored leaf hash does not match the entry".into()));
            }
            tree.append(&e.data);
        }
    }
    let size = tree.size();
    check_hashes(store, &tree, &mut problems).await?;
    let checkpoints = check_checkpoints(store, &tree, verifier, &mut problems).await?;
    // Hashes and checkpoints past the entries we read are fine if the entries exist now.
    let now = store.tlog_size().await?;
    problems.retain(|p| !(p.beyond && p.end <= now));
    if problems.is_empty() {
        return Ok(Ok(Summary { entries: size, checkpoints }));
    }
    Ok(Err(most_precise(problems)))
}

/// Every stored subtree hash must be the recomputed one, and none may be missing or extra.
async fn check_hashes(store: &Store, tree: &MemoryTree, problems: &mut Vec<Problem>) -> Result<(), StoreError> {
    let size = tree.size();
    let top = store.tlog_max_level().await?.unwrap_or(0);
    if top > 63 {
        problems.push(Problem::beyond(size, u64::MAX, format!("hashes at level {top}, past any possible log")));
    }
    for level in 0..=top.clamp(1, 63) {
        let count = size >> level;
        let mut next = 0u64;
        'level: loop {
            let page = store.tlog_level_hashes(level, next, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for (index, stored) in page {
                let (first, end) = (index << level, (index + 1) << level);
                if index >= count {
                    problems.push(Problem::beyond(size, end, format!("hash {level}/{index} is beyond the log")));
                    break 'level;
                }
                if index != next {
                    problems.push(Problem::range(next << level, first, format!("hash {level}/{next} is missing")));
                }
                let want = tree.subtree_hash(Subtree { level, index }).map_err(StoreError::Tlog)?;
                if stored.as_slice() != want {
                    problems.push(Problem::range(first, end, format!("stored hash {level}/{index} is wrong")));
                }
                next = index + 1;
            }
        }
        if next < count {
            problems.push(Problem::range(next << level, count << level, format!("hash {level}/{next} is missing")));
        }
    }
    Ok(())
}

/// Every checkpoint: a valid signature, the stored size and root, the recomputed root, and
/// consistency with the checkpoint before it.
async fn check_checkpoints(
    store: &Store,
    tree: &MemoryTree,
    verifier: &NoteVerifier,
    problems: &mut Vec<Problem>,
) -> Result<u64, StoreError> {
    let size = tree.size();
    let mut count = 0u64;
    let mut after = None;
    let mut prev: Option<Checkpoint> = None;
    loop {
        let page = store.tlog_checkpoints(after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for row in page {
            after = Some(row.size);
            count += 1;
            let s = row.size;
            let from = prev.as_ref().map_or(0, Checkpoint::size);
            let cp = match Checkpoint::open(row.note.as_bytes(), verifier.name(), std::slice::from_ref(verifier)) {
                Ok(cp) => cp,
                Err(e) => {
                    problems.push(Problem::range(from, s, format!("checkpoint {s}: {e}")));
                    continue;
                }
            };
            if cp.size() != s || cp.root().as_slice() != row.root {
                problems.push(Problem::range(from, s, format!("checkpoint {s}: note differs from its row")));
                continue;
            }
            if s > size {
                problems.push(Problem::beyond(size, s, format!("checkpoint {s} is beyond the log ({size} entries)")));
                continue;
            }
            match tree.root_at(s) {
                Ok(root) if &root == cp.root() => {}
                _ => {
                    // The entries before `from` match the previous checkpoint: the log was
                    // changed, or truncated and regrown, after it.
                    let what = if from > 0 {
                        format!(
                            "entries {from}..{s} do not match checkpoint {s} (not consistent with checkpoint {from}: \
                             changed, or truncated and regrown, after it)"
                        )
                    } else {
                        format!("entries {from}..{s} do not match checkpoint {s}")
                    };
                    problems.push(Problem::range(from, s, what));
                    continue;
                }
            }
            if let Some(p) = &prev
                && p.size() > 0
            {
                let consistent = proof::consistency_proof(tree, p.size(), s)
                    .and_then(|pr| verify_consistency(p.size(), s, &pr, p.root(), cp.root()));
                if consistent.is_err() {
                    let what = format!("checkpoints {} and {s} are not consistent", p.size());
                    problems.push(Problem::range(p.size(), s, what));
                }
            }
            prev = Some(cp);
        }
    }
    Ok(count)
}

/// Open the log's database for reading (no migration, no key bootstrap); exit 2 if it cannot.
pub(crate) async fn read_store(url: &str) -> Result<Store, ExitCode> {
    Store::connect(url, &ConnectOptions::default()).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_narrowest_finding_names_the_entry() {
        let found = most_precise(vec![
            Problem::range(0, 8, "checkpoint 8".into()),
            Problem::range(0, 4, "hash 2/0".into()),
            Problem::range(2, 4, "hash 1/1".into()),
            Problem::at(3, "leaf 3".into()),
            Problem::range(8, 12, "checkpoint 12".into()),
        ]);
        let firsts: Vec<_> = found.iter().map(|p| (p.index, p.what.as_str())).collect();
        assert_eq!(firsts, vec![(3, "leaf 3"), (8, "checkpoint 12")]);
    }
}
