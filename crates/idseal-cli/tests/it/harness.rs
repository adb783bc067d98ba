//! Running the binary: commands without inherited `IDSEAL_*` variables, servers that are
//! SIGKILLed on drop, output capture, HTTP helpers and per-test PostgreSQL databases.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_idseal");

/// How long a server may take to print its `issuer:` line (debug build, 2 cores, tests in
/// parallel; RSA and ML-DSA key generation on first start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A free local address: bind port 0, read it, let it go.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address")
}

/// 64 random hex digits (a valid master key), from /dev/urandom.
/// A dev chain of trust for a server at `issuer` (`idseal demo --chain-only`, a level-2 seal)
/// in `<cwd>/chain`, and a config file `<cwd>/idseal.toml` that serves and trusts it, with
/// `extra` TOML before the `[trust]` table. Returns the command's JSON summary and the file.
pub async fn passwordless_chain(cwd: &Path, issuer: &str, extra: &str) -> (Value, PathBuf) {
    let toml_path = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let chain_dir = cwd.join("chain");
    let made = Idseal::new(
        cwd,
        [
            "demo".as_ref(),
            "--chain-only".as_ref(),
            format!("{issuer}/trust").as_ref(),
            "--dir".as_ref(),
            chain_dir.as_os_str(),
            "--level".as_ref(),
            "2".as_ref(),
        ],
    )
    .run()
    .await;
    made.assert_code(0);
    let chain: Value = serde_json::from_str(made.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{made}"));
    let config = cwd.join("idseal.toml");
    std::fs::write(
        &config,
        format!(
            "{extra}[trust]\npublish_dir = {}\ngovernance_location = {}\ngovernance_signers = [{}]\n",
            toml_path(&chain_dir.join("trust")),
            toml::Value::String(format!("{issuer}/trust/governance.xml")),
            toml_path(&chain_dir.join("governance-signer.der")),
        ),
    )
    .unwrap();
    (chain, config)
}

pub fn random_master_key() -> String {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).expect("read /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An `idseal` invocation. Inherited `IDSEAL_*` variables are always removed; only the ones
/// set with [`Idseal::env`] reach the child. Runs in `cwd` so relative defaults
/// (`./idseal-data`) never land in the source tree.
#[derive(Clone, Debug)]
pub struct Idseal {
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    cwd: PathBuf,
}

impl Idseal {
    /// `idseal <args…>` run in `cwd`.
    pub fn new<I, S>(cwd: &Path, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self { args: args.into_iter().map(Into::into).collect(), envs: Vec::new(), cwd: cwd.to_path_buf() }
    }

    /// `idseal serve --data-dir D --bind ADDR`.
    pub fn serve(cwd: &Path, data_dir: &Path, bind: SocketAddr) -> Self {
        Self::new(cwd, ["serve".into(), "--data-dir".into(), data_dir.as_os_str().to_owned(), "--bind".into()])
            .arg(bind.to_string())
    }

    /// One more argument.
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Set a variable in the child.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.to_owned(), v.to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.args(&self.args).current_dir(&self.cwd);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("IDSEAL_") {
                c.env_remove(&k);
            }
        }
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        c
    }

    /// Run to completion (killed after 60 s) and capture the output.
    pub async fn run(&self) -> Output {
        let child = self.command().spawn().expect("spawn idseal");
        match tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await {
            Ok(out) => {
                let out = out.expect("wait for idseal");
                Output {
                    status: out.status,
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                }
            }
            // Dropping the child (kill_on_drop) SIGKILLs it.
            Err(_) => panic!("idseal {:?} did not finish within 60 s", self.args),
        }
    }

    /// Spawn without waiting.
    pub fn spawn(&self) -> Server {
        let mut child = self.command().spawn().expect("spawn idseal");
        let pid = child.id().expect("pid of a running child");
        let captured = Arc::new(Mutex::new(Captured::default()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = vec![
            read_lines(stdout, captured.clone(), |c| &mut c.stdout),
            read_lines(stderr, captured.clone(), |c| &mut c.stderr),
        ];
        Server { child, pid, captured, readers, ready: None, args: self.args.clone() }
    }

    /// Spawn `serve` and wait until it prints its `issuer:` line; panics if it exits first.
    pub async fn start(&self) -> Server {
        let mut s = self.spawn();
        match s.wait_start().await {
            Start::Ready => s,
            Start::Exited(status) => {
                panic!(
                    "idseal exited with {status} instead of starting\nstdout:\n{}\nstderr:\n{}",
                    s.stdout(),
                    s.stderr()
                )
            }
        }
    }

    /// Spawn `serve`, which must fail to start: returns its exit status and output. Panics if
    /// it starts listening instead.
    pub async fn start_must_fail(&self) -> Output {
        let mut s = self.spawn();
        match s.wait_start().await {
            Start::Ready => {
                panic!("idseal started although it must refuse to\nstdout:\n{}\nstderr:\n{}", s.stdout(), s.stderr())
            }
            Start::Exited(status) => Output { status, stdout: s.stdout(), stderr: s.stderr() },
        }
    }
}

/// A finished command.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panic with everything unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.status.code(), Some(code), "unexpected exit status\n{self}");
        self
    }

    /// Panic unless the command failed with a non-zero exit code (not a signal).
    pub fn assert_failed(&self) -> &Self {
        assert!(matches!(self.status.code(), Some(c) if c != 0), "expected a non-zero exit\n{self}");
        self
    }

    /// Panic unless stderr contains `needle` (ASCII case-insensitive).
    pub fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.to_lowercase().contains(&needle.to_lowercase()), "stderr lacks {needle:?}\n{self}");
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status: {}\nstdout:\n{}\nstderr:\n{}", self.status, self.stdout, self.stderr)
    }
}

#[derive(Default)]
struct Captured {
    stdout: Vec<String>,
    stderr: Vec<String>,
}

fn read_lines(
    r: impl AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Captured>>,
    pick: fn(&mut Captured) -> &mut Vec<String>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            pick(&mut into.lock().expect("capture lock")).push(line);
        }
    })
}

/// What a start came to.
#[derive(Debug)]
pub enum Start {
    /// It printed `issuer:` and listens.
    Ready,
    /// It exited first.
    Exited(ExitStatus),
}

/// What a started server printed.
#[derive(Clone, Debug)]
pub struct Ready {
    /// From `idseal … listening on http://ADDR`.
    pub addr: SocketAddr,
    /// From `issuer: URL`.
    pub issuer: String,
    /// From `admin bootstrap token (shown once…): TOKEN`, when printed.
    pub token: Option<String>,
}

/// A running `idseal` process. Dropping it SIGKILLs the process, so a failing test leaves
/// nothing behind.
pub struct Server {
    child: Child,
    pid: u32,
    captured: Arc<Mutex<Captured>>,
    readers: Vec<JoinHandle<()>>,
    ready: Option<Ready>,
    args: Vec<OsString>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL; harmless when it already exited.
        let _ = self.child.start_kill();
    }
}

impl Server {
    /// Wait until the `issuer:` line is printed or the process exits.
    pub async fn wait_start(&mut self) -> Start {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(r) = self.parse_ready() {
                self.ready = Some(r);
                return Start::Ready;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.join_readers().await;
                // It may have printed `issuer:` and then died.
                if let Some(r) = self.parse_ready() {
                    self.ready = Some(r);
                    return Start::Ready;
                }
                return Start::Exited(status);
            }
            assert!(
                Instant::now() < deadline,
                "idseal {:?} neither started nor exited within {START_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                self.args,
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn parse_ready(&self) -> Option<Ready> {
        let c = self.captured.lock().expect("capture lock");
        let issuer = c.stdout.iter().find_map(|l| l.strip_prefix("issuer: "))?.to_owned();
        let addr = c
            .stdout
            .iter()
            .find_map(|l| l.split_once(" listening on http://").map(|(_, a)| a))
            .expect("a `listening on` line before the `issuer:` line")
            .parse()
            .expect("listen address");
        let token = c
            .stdout
            .iter()
            .find(|l| l.starts_with("admin bootstrap token"))
            .map(|l| l.rsplit_once(": ").expect("token after `: `").1.trim().to_owned());
        Some(Ready { addr, issuer, token })
    }

    async fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            // Output pipes close when the process (and anything holding them) exits.
            let _ = tokio::time::timeout(Duration::from_secs(10), r).await;
        }
    }

    /// What it printed at start.
    pub fn ready(&self) -> &Ready {
        self.ready.as_ref().expect("server started")
    }

    /// The bootstrap token it printed; panics when none was printed.
    pub fn token(&self) -> String {
        self.ready().token.clone().unwrap_or_else(|| panic!("no bootstrap token printed\nstdout:\n{}", self.stdout()))
    }

    /// `http://ADDR/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ready().addr)
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.captured.lock().expect("capture lock").stdout.join("\n")
    }

    /// Everything printed on stderr so far, by line.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.captured.lock().expect("capture lock").stderr.clone()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr_lines().join("\n")
    }

    /// Send a signal with kill(1) (the workspace forbids `unsafe`, so no libc).
    pub async fn signal(&self, sig: &str) {
        let st =
            Command::new("kill").arg(format!("-{sig}")).arg(self.pid.to_string()).status().await.expect("run kill");
        assert!(st.success(), "kill -{sig} {} failed", self.pid);
    }

    /// SIGKILL now and reap.
    pub async fn sigkill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.wait_exit(Duration::from_secs(10)).await;
    }

    /// Wait for the process to exit; panics after `limit`. Output is complete afterwards.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(s) => s.expect("wait"),
            Err(_) => panic!("idseal did not exit within {limit:?}\nstderr:\n{}", self.stderr()),
        };
        self.join_readers().await;
        status
    }

    /// SIGTERM and require a clean exit (code 0) within 10 s.
    pub async fn stop(mut self) {
        self.signal("TERM").await;
        let st = self.wait_exit(Duration::from_secs(10)).await;
        assert_eq!(st.code(), Some(0), "graceful shutdown failed\nstderr:\n{}", self.stderr());
    }
}

/// Rotate one `alg` key through the admin API with the server's bootstrap token; must be 200.
pub async fn rotate(c: &reqwest::Client, s: &Server, alg: &str) {
    let r = c
        .post(s.url("/admin/keys/rotate"))
        .bearer_auth(s.token())
        .header("content-type", "application/json")
        .body(format!(r#"{{"alg":"{alg}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// `workers` clients rotate keys without pause (worker `w` rotates `algs[w % algs.len()]`);
/// once `kill_after` rotations are acknowledged the server is SIGKILLed with requests in
/// flight. Returns the kids of every acknowledged rotation. The server's admin rate limit must
/// be raised out of the way, and every answer before the kill must be 200.
pub async fn rotations_until_sigkill(
    c: &reqwest::Client,
    s: &mut Server,
    algs: &[&str],
    workers: usize,
    kill_after: usize,
) -> BTreeSet<String> {
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let others: Arc<Mutex<Vec<String>>> = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (url, token) = (s.url("/admin/keys/rotate"), s.token());
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (c, url, token) = (c.clone(), url.clone(), token.clone());
            let (acked, others, in_flight) = (acked.clone(), others.clone(), in_flight.clone());
            let body = format!(r#"{{"alg":"{}"}}"#, algs[w % algs.len()]);
            tokio::spawn(async move {
                loop {
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let res = c
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let Ok(res) = res else { return }; // The server is gone.
                    let status = res.status().as_u16();
                    match res.json::<Value>().await {
                        Ok(v) if status == 200 => {
                            let kid = v["kid"].as_str().expect("rotation answer has a kid").to_owned();
                            acked.lock().unwrap().push(kid);
                        }
                        Ok(v) => others.lock().unwrap().push(format!("{status} {v}")),
                        Err(_) => return, // Cut off mid-response: not acknowledged.
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < kill_after {
        assert!(Instant::now() < deadline, "rotations too slow; other answers: {:?}", others.lock().unwrap());
        assert!(others.lock().unwrap().is_empty(), "rotations refused: {:?}", others.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let in_flight_at_kill = in_flight.load(Ordering::SeqCst);
    s.sigkill().await;
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t).await.expect("workers stop").expect("worker panicked");
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(others.lock().unwrap().is_empty(), "non-200 answers: {:?}", others.lock().unwrap());
    assert!(acked.len() >= kill_after, "{} acknowledged", acked.len());
    assert!(in_flight_at_kill > 0, "the kill must land while requests are in flight");
    acked
}

/// An HTTP client with timeouts.
pub fn client() -> reqwest::Client {
    idseal_server::http::client_builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// GET `url`, expecting JSON.
pub async fn get_json(c: &reqwest::Client, url: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut req = c.get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_else(|e| panic!("GET {url} body: {e}"));
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {status} not JSON ({e}): {body}"));
    (status, v)
}

/// Poll `/health` until it answers 200 (within 10 s); returns the last body.
pub async fn wait_healthy(c: &reqwest::Client, s: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = c.get(s.url("/health")).send().await;
        let last = match res {
            Ok(r) if r.status() == reqwest::StatusCode::OK => return r.json().await.expect("health JSON"),
            Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => e.to_string(),
        };
        assert!(Instant::now() < deadline, "/health never answered 200; last: {last}\nstderr:\n{}", s.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The published JWK Set's keys.
pub async fn jwks(c: &reqwest::Client, s: &Server) -> Vec<Value> {
    let (status, v) = get_json(c, &s.url("/.well-known/jwks.json"), None).await;
    assert_eq!(status, 200, "JWKS: {v}");
    v["keys"].as_array().unwrap_or_else(|| panic!("JWKS without keys: {v}")).clone()
}

/// Kids of `keys` by `alg`, each list sorted.
pub fn kids_by_alg(keys: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in keys {
        let alg = k["alg"].as_str().unwrap_or_else(|| panic!("key without alg: {k}"));
        let kid = k["kid"].as_str().unwrap_or_else(|| panic!("key without kid: {k}"));
        assert!(!kid.is_empty(), "empty kid: {k}");
        m.entry(alg.to_owned()).or_default().push(kid.to_owned());
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

/// Assert the JWK Set holds exactly one key for each of the four algorithms; return alg → kid.
pub fn one_key_per_alg(keys: &[Value]) -> BTreeMap<String, String> {
    let by = kids_by_alg(keys);
    let algs: Vec<&str> = by.keys().map(String::as_str).collect();
    assert_eq!(algs, ["ES256", "EdDSA", "ML-DSA-65", "RS256"], "algorithms published: {keys:?}");
    assert_eq!(keys.len(), 4, "exactly four keys: {keys:?}");
    by.into_iter().map(|(alg, kids)| (alg, kids.into_iter().next().expect("one kid"))).collect()
}

/// Mode bits of a file.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

/// Start a fresh install in `data_dir`: start, read the published kids, stop gracefully.
/// Returns alg → kid and the bootstrap token.
pub async fn fresh_install(cwd: &Path, data_dir: &Path) -> (BTreeMap<String, String>, String) {
    let s = Idseal::serve(cwd, data_dir, free_addr()).start().await;
    let c = client();
    wait_healthy(&c, &s).await;
    let kids = one_key_per_alg(&jwks(&c, &s).await);
    let token = s.token();
    s.stop().await;
    (kids, token)
}

/// Start a server on `data_dir` and return its published kids (alg → kid); it must start
/// cleanly and print no bootstrap token.
pub async fn kids_after_restart(cwd: &Path, data_dir: &Path) -> BTreeMap<String, String> {
    let s = Idseal::serve(cwd, data_dir, free_addr()).start().await;
    assert_eq!(s.ready().token, None, "a restart must not print a bootstrap token");
    let c = client();
    wait_healthy(&c, &s).await;
    let kids = one_key_per_alg(&jwks(&c, &s).await);
    s.stop().await;
    kids
}

/// A PostgreSQL database of its own for one test, dropped when this is dropped (also when
/// the test fails). Declare it before the servers that use it so it is dropped after them.
pub struct PgDb {
    admin_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl PgDb {
    /// `None` (after printing "skipped") when `IDSEAL_TEST_DATABASE_URL` is unset. When it is
    /// set, PostgreSQL must be reachable: otherwise the test fails.
    pub async fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("IDSEAL_TEST_DATABASE_URL") else {
            eprintln!("{test}: skipped (IDSEAL_TEST_DATABASE_URL is not set)");
            return None;
        };
        let made =
            tokio::time::timeout(Duration::from_secs(30), idseal_store::testing::create_postgres_database(&admin_url))
                .await
                .unwrap_or_else(|_| panic!("IDSEAL_TEST_DATABASE_URL is set but PostgreSQL did not answer in 30 s"));
        let (url, name) = made
            .unwrap_or_else(|e| panic!("IDSEAL_TEST_DATABASE_URL is set but a test database cannot be created: {e}"));
        Some(Self { admin_url, name, url })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(idseal_store::testing::drop_postgres_database(&admin, &name))
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("warning: cannot drop test database {}: {e}", self.name);
        }
    }
}
