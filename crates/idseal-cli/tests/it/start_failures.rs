//! Start-up failures: a clear error and a non-zero exit, never a silent regeneration of the
//! master key or the signing keys. Each case breaks an installed data directory, checks the
//! refusal and that nothing was rewritten, repairs it, and checks that a good start still
//! publishes the original keys.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::harness::{Idseal, Output, free_addr, fresh_install, kids_after_restart, random_master_key};

struct Install {
    tmp: tempfile::TempDir,
    data: PathBuf,
    key_file: PathBuf,
    key_text: String,
    kids: std::collections::BTreeMap<String, String>,
}

async fn install() -> Install {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (kids, _) = fresh_install(tmp.path(), &data).await;
    let key_file = data.join("master.key");
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    Install { tmp, data, key_file, key_text, kids }
}

impl Install {
    fn serve(&self) -> Idseal {
        Idseal::serve(self.tmp.path(), &self.data, free_addr())
    }

    /// A good start after the repair publishes exactly the keys of the first start.
    async fn assert_keys_unchanged(&self) {
        assert_eq!(self.key_text, std::fs::read_to_string(&self.key_file).unwrap(), "master.key restored");
        let now = kids_after_restart(self.tmp.path(), &self.data).await;
        assert_eq!(now, self.kids, "the signing keys survived the failed start unchanged");
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn must_refuse(out: &Output, needle: &str) {
    out.assert_failed().assert_stderr_has(needle);
    assert!(!out.stdout.contains("listening on"), "{out}");
    assert!(!out.stdout.contains("bootstrap token"), "no new bootstrap token\n{out}");
}

/// (a) A master.key holding garbage text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_master_key_file_is_refused() {
    let i = install().await;
    std::fs::write(&i.key_file, "this is not a master key\n").unwrap();
    let out = i.serve().start_must_fail().await;
    must_refuse(&out, "master key");
    assert_eq!(read(&i.key_file), b"this is not a master key\n", "the bad key file is left for the operator");
    std::fs::write(&i.key_file, &i.key_text).unwrap();
    i.assert_keys_unchanged().await;
}

/// (b) A valid master key, but not the one the keys were sealed with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_master_key_is_refused() {
    let i = install().await;
    let other = format!("{}\n", random_master_key());
    std::fs::write(&i.key_file, &other).unwrap();
    let out = i.serve().start_must_fail().await;
    must_refuse(&out, "different master key");
    assert_eq!(read(&i.key_file), other.as_bytes(), "the key file is not replaced");
    std::fs::write(&i.key_file, &i.key_text).unwrap();
    i.assert_keys_unchanged().await;
}

/// (b') master.key deleted while the database holds keys: the start that generates a new
/// master key must fail on the mismatch and must not leave its new key file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_master_key_with_existing_keys_is_refused() {
    let i = install().await;
    std::fs::remove_file(&i.key_file).unwrap();
    let out = i.serve().start_must_fail().await;
    must_refuse(&out, "different master key");
    assert!(!i.key_file.exists(), "the freshly generated key file must be removed again");
    // A second attempt fails the same way (no key file left over to trip on).
    must_refuse(&i.serve().start_must_fail().await, "different master key");
    std::fs::write(&i.key_file, &i.key_text).unwrap();
    std::fs::set_permissions(&i.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    i.assert_keys_unchanged().await;
}

/// (c) A master.key readable by group and others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_readable_master_key_is_refused() {
    let i = install().await;
    std::fs::set_permissions(&i.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = i.serve().start_must_fail().await;
    must_refuse(&out, "chmod 600");
    assert_eq!(crate::harness::mode(&i.key_file), 0o644, "the file mode is the operator's to fix");
    std::fs::set_permissions(&i.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    i.assert_keys_unchanged().await;
}

/// (c') master.key replaced by a symbolic link (to a file an attacker could swap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinked_master_key_is_refused() {
    let i = install().await;
    let real = i.key_file.with_extension("real");
    std::fs::rename(&i.key_file, &real).unwrap();
    std::os::unix::fs::symlink(&real, &i.key_file).unwrap();
    must_refuse(&i.serve().start_must_fail().await, "symbolic link");
    std::fs::remove_file(&i.key_file).unwrap();
    std::fs::rename(&real, &i.key_file).unwrap();
    i.assert_keys_unchanged().await;
}

/// (d) The database file replaced by garbage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_database_is_refused() {
    let i = install().await;
    let db = i.data.join("idseal.db");
    let original = read(&db);
    let garbage: Vec<u8> = (0..16384u32).map(|n| n.wrapping_mul(2_654_435_761).to_le_bytes()[1]).collect();
    std::fs::write(&db, &garbage).unwrap();
    let out = i.serve().start_must_fail().await;
    must_refuse(&out, "database");
    assert_eq!(read(&db), garbage, "the damaged database is not recreated or overwritten");
    assert_eq!(std::fs::read_to_string(&i.key_file).unwrap(), i.key_text, "master.key untouched");
    std::fs::write(&db, &original).unwrap();
    i.assert_keys_unchanged().await;
}

/// (e) IDSEAL_MASTER_KEY set to something that is not a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_master_key_variable_is_refused() {
    let i = install().await;
    for bad in ["not-a-key", "abcd", &"0".repeat(63), &"g".repeat(64)] {
        let out = i.serve().env("IDSEAL_MASTER_KEY", bad).start_must_fail().await;
        must_refuse(&out, "IDSEAL_MASTER_KEY");
        must_refuse(&out, "master key");
    }
    i.assert_keys_unchanged().await;
}
