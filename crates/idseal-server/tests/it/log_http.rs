//! The audit log over HTTP: checkpoints, verifier key, tiles, entries, proofs (checked by us and
//! by the independent Python checker), malformed requests, the auditor query and the
//! right-of-access export.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use idseal_tlog::hash::{leaf_hash, node_hash};
use idseal_tlog::tiles::{Tile, hash_from_tile, parse_entry_bundle, tile_reads, tiles_needed};
use idseal_tlog::{Checkpoint, Hash, NoteVerifier, proof};
use serde_json::{Value, json};

use crate::support::{Server, TestDb, get, post};

both_backends!(log_over_http_verifies, malformed_log_requests_are_refused, export_and_audit_query);

fn hash_of(b64: &Value) -> Hash {
    B64.decode(b64.as_str().expect("base64 string")).unwrap().try_into().unwrap()
}

fn hashes_of(v: &Value) -> Vec<Hash> {
    v.as_array().expect("hash array").iter().map(hash_of).collect()
}

async fn rotate(s: &Server, alg: &str) {
    let r = post("/admin/keys/rotate").bearer(s.token()).json(&format!(r#"{{"alg":"{alg}"}}"#)).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn sign(s: &Server) -> String {
    let r = post("/admin/log/checkpoint").bearer(s.token()).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.text()
}

async fn verifier(s: &Server) -> NoteVerifier {
    let r = get("/log/verifier-key").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    NoteVerifier::from_vkey(r.text().trim_end()).unwrap()
}

fn open(note: &str, v: &NoteVerifier) -> Checkpoint {
    Checkpoint::open(note.as_bytes(), v.name(), std::slice::from_ref(v)).unwrap()
}

async fn fetch(s: &Server, path: &str) -> Vec<u8> {
    let r = get(path).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    r.body.to_vec()
}

async fn log_over_http_verifies(db: &TestDb) {
    let s = db.server(|_| {}).await;
    rotate(&s, "EdDSA").await;
    let note1 = sign(&s).await;
    rotate(&s, "ES256").await;
    // Enough raw entries for full level-0 tiles and a level-1 tile.
    let raw: Vec<Vec<u8>> = (0..600u32).map(|i| format!("raw entry {i}").into_bytes()).collect();
    s.state.store.tlog_append(&raw).await.unwrap();
    rotate(&s, "EdDSA").await;
    let note2 = sign(&s).await;

    let v = verifier(&s).await;
    let r = get("/log/checkpoint").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), "no-cache");
    assert!(r.header("content-type").starts_with("text/plain"));
    assert_eq!(r.text(), note2);
    let (cp1, cp2) = (open(&note1, &v), open(&note2, &v));
    let size = cp2.size();
    assert!(size > 600 && cp1.size() < size);

    // Every entry and its inclusion proof.
    let mut entries = Vec::new();
    let mut cases = json!({"inclusion": [], "consistency": [], "checkpoints": []});
    for i in 0..size {
        let r = get(&format!("/log/entries/{i}")).send(&s.app).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("cache-control"), "public, max-age=31536000, immutable");
        let leaf = leaf_hash(&r.body);
        assert_eq!(B64.decode(r.header("x-leaf-hash")).unwrap(), leaf);
        let p = get(&format!("/log/proof/inclusion?index={i}&size={size}")).send(&s.app).await.json();
        assert_eq!((p["index"].as_u64(), p["size"].as_u64()), (Some(i), Some(size)));
        assert_eq!(&hash_of(&p["root"]), cp2.root());
        let path = hashes_of(&p["hashes"]);
        proof::verify_inclusion(&leaf, i, size, &path, cp2.root()).unwrap();
        if i % 37 == 0 || i + 1 == size {
            let hex_path: Vec<String> = path.iter().map(hex).collect();
            let case =
                json!({"leaf": hex(&leaf), "index": i, "size": size, "proof": hex_path, "root": hex(cp2.root())});
            push_case(&mut cases["inclusion"], case, "root");
        }
        entries.push(r.body.to_vec());
    }
    assert_eq!(&idseal_tlog::hash::root_from_entries(&entries), cp2.root());

    // Consistency between the two checkpoints.
    let p = get(&format!("/log/proof/consistency?from={}&to={size}", cp1.size())).send(&s.app).await.json();
    let path = hashes_of(&p["hashes"]);
    proof::verify_consistency(cp1.size(), size, &path, cp1.root(), cp2.root()).unwrap();
    let hex_path: Vec<String> = path.iter().map(hex).collect();
    let case = json!({"size1": cp1.size(), "size2": size, "proof": hex_path, "root1": hex(cp1.root()), "root2": hex(cp2.root())});
    push_case(&mut cases["consistency"], case, "root2");
    for (note, cp) in [(&note1, &cp1), (&note2, &cp2)] {
        let case =
            json!({"note": note, "vkey": v.vkey(), "origin": v.name(), "size": cp.size(), "root": hex(cp.root())});
        push_case(&mut cases["checkpoints"], case, "root");
    }

    // The root from hash tiles alone.
    let subtrees = proof::root_subtrees(size);
    let reads = tile_reads(&subtrees, size).unwrap();
    let mut hashes = Vec::new();
    let mut saw_level_1 = false;
    for tile in tiles_needed(&reads) {
        let r = get(&format!("/log/{}", tile.path())).send(&s.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", tile.path());
        let cache = if tile.is_partial() { "public, max-age=60" } else { "public, max-age=31536000, immutable" };
        assert_eq!(r.header("cache-control"), cache);
        saw_level_1 |= tile.path().starts_with("tile/1/");
        for read in reads.iter().filter(|rd| rd.tile == tile) {
            hashes.push((*read, hash_from_tile(read, &r.body).unwrap()));
        }
    }
    assert!(saw_level_1, "the tree is tall enough for a level-1 tile");
    let ordered: Vec<Hash> = reads.iter().map(|rd| hashes.iter().find(|(x, _)| x == rd).unwrap().1).collect();
    let (last, rest) = ordered.split_last().unwrap();
    let root = rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc));
    assert_eq!(&root, cp2.root());

    // Entry bundles equal the entries.
    let mut bundled = Vec::new();
    for n in 0..size.div_ceil(256) {
        let tile = Tile::in_tree(idseal_tlog::tiles::TileKind::Entries, n, size).unwrap();
        let data = fetch(&s, &format!("/log/{}", tile.path())).await;
        bundled.extend(parse_entry_bundle(&data).unwrap().into_iter().map(<[u8]>::to_vec));
    }
    assert_eq!(bundled, entries);
    // A narrower partial tile than the latest is also served (it never changes).
    assert_eq!(fetch(&s, "/log/tile/0/000.p/3").await.len(), 96);

    run_python_checker(&cases);
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Add `case` as valid and a copy with `field` (a hex hash) tampered as invalid.
fn push_case(list: &mut Value, mut case: Value, field: &str) {
    case["valid"] = json!(true);
    let mut bad = case.clone();
    let h = bad[field].as_str().unwrap().to_owned();
    let flipped = match h.strip_prefix('0') {
        Some(rest) => format!("1{rest}"),
        None => format!("0{}", &h[1..]),
    };
    bad[field] = json!(flipped);
    bad["valid"] = json!(false);
    let a = list.as_array_mut().unwrap();
    a.push(case);
    a.push(bad);
}

/// The independent Python verifier (crates/idseal-tlog/tests/interop) agrees on every proof
/// and checkpoint fetched over HTTP.
fn run_python_checker(cases: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(cases).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../idseal-tlog/tests/interop/check_proofs.py");
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python).arg(&script).arg(&file).output().unwrap_or_else(|e| {
        panic!("cannot run `{python}` ({e}): needs Python 3 with `pip install -r crates/idseal-tlog/tests/interop/requirements.txt`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check_proofs.py: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("0 disagreements"), "{stdout}");
}

async fn malformed_log_requests_are_refused(db: &TestDb) {
    let s = db.server(|_| {}).await;
    let size = open(&sign(&s).await, &verifier(&s).await).size();
    assert!(size > 2);
    let bad_request = [
        "/log/proof/inclusion?index=-1&size=1".to_owned(),
        "/log/proof/inclusion?index=abc&size=1".into(),
        "/log/proof/inclusion?index=0&size=99999999999999999999999".into(),
        "/log/proof/inclusion?index=0&size=18446744073709551615".into(),
        format!("/log/proof/inclusion?index=0&size={}", size + 1),
        format!("/log/proof/inclusion?index={size}&size={size}"),
        "/log/proof/inclusion?index=0&size=0".into(),
        "/log/proof/inclusion?index=0".into(),
        "/log/proof/inclusion?index=0&size=1&size=2".into(),
        "/log/proof/inclusion?index=0&size=1&x=1".into(),
        "/log/proof/inclusion?index=+1&size=2".into(),
        "/log/proof/inclusion?index=%ff&size=2".into(),
        "/log/proof/consistency?from=2&to=1".into(),
        "/log/proof/consistency?from=0&to=1".into(),
        format!("/log/proof/consistency?from=1&to={}", size + 1),
        "/log/proof/consistency?from=1".into(),
        "/log/tile/99/000".into(),
        "/log/tile/0/x001/x002".into(),
        "/log/tile/0/x000/001".into(),
        "/log/tile/0/01".into(),
        "/log/tile/0/000.p/0".into(),
        "/log/tile/0/000.p/256".into(),
        "/log/tile/0/000.p/007".into(),
        "/log/tile/entries/000.p/300".into(),
        "/log/tile/../../etc/passwd".into(),
        "/log/tile/%2e%2e/%2e%2e/etc/passwd".into(),
        "/log/tile/0/000/".into(),
        "/log/tile/x/000".into(),
        "/log/entries/abc".into(),
        "/log/entries/%ff".into(),
        "/log/tile/%ff/000".into(),
        "/log/tile/0/%00".into(),
        "/log/entries/-1".into(),
        "/log/entries/99999999999999999999999".into(),
    ];
    for uri in &bad_request {
        let r = get(uri).send(&s.app).await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let not_found = [
        "/log/tile/0/001".to_owned(),
        "/log/tile/1/000.p/1".into(),
        format!("/log/tile/0/000.p/{}", size + 1),
        format!("/log/tile/entries/000.p/{}", size + 1),
        "/log/tile/0/x018/x446/x744/x073/x709/x551/616".into(),
        format!("/log/entries/{size}"),
        "/log/entries/18446744073709551615".into(),
    ];
    for uri in &not_found {
        let r = get(uri).send(&s.app).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    // The log's own size is fine.
    let r = get(&format!("/log/proof/consistency?from={size}&to={size}")).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["hashes"], json!([]));
}

async fn export_and_audit_query(db: &TestDb) {
    let s = db.server(|_| {}).await;
    let keys = s.key_list().await;
    let kid = keys["keys"][0]["kid"].as_str().unwrap().to_owned();
    rotate(&s, "EdDSA").await;
    s.advance(100);
    rotate(&s, "ES256").await;
    // Admin endpoints need the token.
    for (m, uri) in
        [("POST", "/admin/log/checkpoint"), ("GET", "/admin/audit"), ("GET", "/admin/audit/export?subject=x")]
    {
        let req = if m == "POST" { post(uri) } else { get(uri) };
        req.send(&s.app).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
        let req = if m == "POST" { post(uri) } else { get(uri) };
        req.bearer("wrong").send(&s.app).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    }

    // The export: exactly the subject's entries, each proved against the checkpoint.
    let r = get(&format!("/admin/audit/export?subject={kid}")).bearer(s.token()).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ex = r.json();
    let v = verifier(&s).await;
    let cp = open(ex["checkpoint"].as_str().unwrap(), &v);
    assert_eq!(ex["size"].as_u64(), Some(cp.size()));
    assert_eq!(&hash_of(&ex["root"]), cp.root());
    let pseudonym = s.state.store.audit_subject_pseudonym(&kid).unwrap();
    assert_eq!(ex["subject_pseudonym"], json!(pseudonym));
    let all = s.state.store.tlog_entries(0, 100_000).await.unwrap();
    let expected: BTreeSet<u64> =
        all.iter().filter(|e| e.subject_pseudonym.as_deref() == Some(&pseudonym)).map(|e| e.index).collect();
    let got: BTreeSet<u64> = ex["entries"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    let audit_rows = get(&format!("/admin/audit?subject={kid}")).bearer(s.token()).send(&s.app).await.json();
    assert_eq!(audit_rows["events"].as_array().unwrap().len(), expected.len());
    for e in ex["entries"].as_array().unwrap() {
        let data = B64.decode(e["entry"].as_str().unwrap()).unwrap();
        let i = e["index"].as_u64().unwrap();
        proof::verify_inclusion(&leaf_hash(&data), i, cp.size(), &hashes_of(&e["inclusion_proof"]), cp.root()).unwrap();
    }
    let none = get("/admin/audit/export?subject=nobody").bearer(s.token()).send(&s.app).await.json();
    assert_eq!(none["entries"], json!([]));
    for uri in ["/admin/audit/export", "/admin/audit/export?subject=", "/admin/audit/export?subject=a&from_index=x"] {
        get(uri).bearer(s.token()).send(&s.app).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }

    // The auditor query.
    let q = |uri: String| {
        let token = s.token().to_owned();
        let app = s.app.clone();
        async move {
            let r = get(&uri).bearer(&token).send(&app).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
            r.json()
        }
    };
    let rot = q("/admin/audit?kind=KEY_ROTATE".into()).await;
    let rot = rot["events"].as_array().unwrap().clone();
    assert_eq!(rot.len(), 2);
    assert!(rot.iter().all(|e| e["kind"] == "KEY_ROTATE"));
    let later = q(format!("/admin/audit?kind=KEY_ROTATE&since={}", crate::support::T0 + 50)).await;
    assert_eq!(later["events"].as_array().unwrap().len(), 1);
    let earlier = q(format!("/admin/audit?until={}", crate::support::T0 + 50)).await;
    assert!(earlier["events"].as_array().unwrap().iter().all(|e| e["at"].as_i64().unwrap() <= crate::support::T0 + 50));
    // Pagination: one at a time covers everything once.
    let total = q("/admin/audit?limit=500".into()).await["events"].as_array().unwrap().len();
    let mut seen = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let uri = after.map_or("/admin/audit?limit=1".to_owned(), |a| format!("/admin/audit?limit=1&after_id={a}"));
        let page = q(uri).await;
        seen.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_after_id"].as_i64() {
            Some(n) => after = Some(n),
            None => break,
        }
        assert!(seen.len() <= total + 1, "pagination terminates");
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    for uri in [
        "/admin/audit?limit=0",
        "/admin/audit?limit=501",
        "/admin/audit?limit=abc",
        "/admin/audit?since=10&until=5",
        "/admin/audit?kind=key-rotate",
        "/admin/audit?after_id=-1",
        "/admin/audit?since=99999999999999999999",
        "/admin/audit?bogus=1",
    ] {
        get(uri).bearer(s.token()).send(&s.app).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
}
