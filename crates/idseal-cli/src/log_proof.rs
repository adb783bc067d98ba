//! `idseal log proof`: print one inclusion or consistency proof from the database, checked
//! with idseal-tlog's verifier before it is printed (docs/audit-log.md, "Verification").
//!
//! The inclusion proof is checked against the leaf hash recomputed from the entry's bytes and
//! the root of the tree of `--size` entries; the consistency proof against the roots of both
//! trees. A proof that does not verify exits 1; bad arguments exit 2.

use std::io::Write as _;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use idseal_store::{Store, StoreError};
use idseal_tlog::Hash;
use idseal_tlog::hash::leaf_hash;
use idseal_tlog::proof::{verify_consistency, verify_inclusion};

use crate::cli::ConfigArgs;
use crate::log::read_store;

#[derive(Subcommand)]
pub(crate) enum ProofCommand {
    /// The inclusion proof of entry `--index` in the tree of `--size` entries (default: the
    /// whole log).
    Inclusion {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// The entry's index (from 0).
        #[arg(long)]
        index: u64,
        /// The tree size the proof is for (default: the current log size).
        #[arg(long)]
        size: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The consistency proof from the tree of `--from` entries to the tree of `--to` entries.
    Consistency {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// The older tree size (at least 1).
        #[arg(long)]
        from: u64,
        /// The newer tree size (at least `--from`, at most the log size).
        #[arg(long)]
        to: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Why the command stopped: bad arguments or an unreadable log (exit 2), or a proof that does
/// not verify (exit 1).
enum Failure {
    Usage(String),
    Invalid(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Usage(format!("cannot read the log: {e}"))
    }
}

fn b64(h: &Hash) -> String {
    B64.encode(h)
}

pub(crate) async fn run(cmd: ProofCommand) -> ExitCode {
    let cfg = match &cmd {
        ProofCommand::Inclusion { cfg, .. } | ProofCommand::Consistency { cfg, .. } => cfg,
    };
    let settings = match cfg.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match read_store(&settings.database_url).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match cmd {
        ProofCommand::Inclusion { index, size, json, .. } => inclusion(&store, index, size, json).await,
        ProofCommand::Consistency { from, to, json, .. } => consistency(&store, from, to, json).await,
    };
    store.close().await;
    match result {
        Ok(text) => {
            let _ = writeln!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Invalid(e)) => {
            eprintln!("error: the proof does not verify: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The current size, and `size` checked against it.
async fn checked_size(store: &Store, size: u64, what: &str) -> Result<u64, Failure> {
    let current = store.tlog_size().await?;
    if size > current {
        return Err(Failure::Usage(format!("{what} {size} is beyond the log ({current} entries)")));
    }
    Ok(size)
}

async fn inclusion(store: &Store, index: u64, size: Option<u64>, json: bool) -> Result<String, Failure> {
    let size = match size {
        Some(s) => checked_size(store, s, "--size").await?,
        None => store.tlog_size().await?,
    };
    if index >= size {
        return Err(Failure::Usage(format!("--index {index} is not below the tree size {size}")));
    }
    let entry = store.tlog_entry(index).await?.ok_or_else(|| Failure::Invalid(format!("entry {index} is missing")))?;
    let leaf = leaf_hash(&entry.data);
    let root = store.tlog_root(size).await.map_err(|e| Failure::Invalid(format!("root of {size}: {e}")))?;
    let proof = store
        .tlog_inclusion_proof(index, size)
        .await
        .map_err(|e| Failure::Invalid(format!("inclusion proof of {index} in {size}: {e}")))?;
    verify_inclusion(&leaf, index, size, &proof, &root)
        .map_err(|e| Failure::Invalid(format!("entry {index} in the tree of {size}: {e}")))?;
    let hashes: Vec<String> = proof.iter().map(b64).collect();
    if json {
        let v = serde_json::json!({
            "type": "inclusion",
            "index": index,
            "tree_size": size,
            "leaf_hash": b64(&leaf),
            "root_hash": b64(&root),
            "proof": hashes,
            "verified": true,
        });
        return serde_json::to_string_pretty(&v).map_err(|e| Failure::Usage(e.to_string()));
    }
    let mut out = format!(
        "inclusion proof: entry {index} in the tree of {size} entries (verified)\nleaf hash  {}\nroot hash  {}\nproof ({} hashes):",
        b64(&leaf),
        b64(&root),
        hashes.len()
    );
    for h in &hashes {
        out.push_str("\n  ");
        out.push_str(h);
    }
    Ok(out)
}

async fn consistency(store: &Store, from: u64, to: u64, json: bool) -> Result<String, Failure> {
    if from == 0 {
        return Err(Failure::Usage("--from must be at least 1 (every log extends the empty one)".into()));
    }
    if from > to {
        return Err(Failure::Usage(format!("--from {from} is larger than --to {to}")));
    }
    checked_size(store, to, "--to").await?;
    let root1 = store.tlog_root(from).await.map_err(|e| Failure::Invalid(format!("root of {from}: {e}")))?;
    let root2 = store.tlog_root(to).await.map_err(|e| Failure::Invalid(format!("root of {to}: {e}")))?;
    let proof = store
        .tlog_consistency_proof(from, to)
        .await
        .map_err(|e| Failure::Invalid(format!("consistency proof {from} -> {to}: {e}")))?;
    verify_consistency(from, to, &proof, &root1, &root2)
        .map_err(|e| Failure::Invalid(format!("tree of {to} extends the tree of {from}: {e}")))?;
    let hashes: Vec<String> = proof.iter().map(b64).collect();
    if json {
        let v = serde_json::json!({
            "type": "consistency",
            "from": from,
            "to": to,
            "from_root_hash": b64(&root1),
            "to_root_hash": b64(&root2),
            "proof": hashes,
            "verified": true,
        });
        return serde_json::to_string_pretty(&v).map_err(|e| Failure::Usage(e.to_string()));
    }
    let mut out = format!(
        "consistency proof: the tree of {to} entries extends the tree of {from} (verified)\nroot {from:<6} {}\nroot {to:<6} {}\nproof ({} hashes):",
        b64(&root1),
        b64(&root2),
        hashes.len()
    );
    for h in &hashes {
        out.push_str("\n  ");
        out.push_str(h);
    }
    Ok(out)
}
