//! The SMTP sink: a minimal RFC 5321 server that stores what it receives.
//!
//! Supported: the 220 greeting, `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`, `DATA` (dot-unstuffing, end at
//! `<CRLF>.<CRLF>`), `RSET`, `NOOP`, `QUIT`. Known but unimplemented commands (`VRFY`, `EXPN`, `HELP`, `STARTTLS`,
//! `AUTH`, …) get 502, unknown ones 500, commands out of order 503, bad arguments 501.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::ReceivedMail;

/// Longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4 says 512; a little slack for parameters).
const MAX_COMMAND_LINE: usize = 2048;
/// Longest text line accepted inside `DATA` (RFC 5321 §4.5.3.1.6 says 1000).
const MAX_TEXT_LINE: usize = 4096;
/// Largest message accepted, advertised as `SIZE`.
const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;
/// Most recipients per transaction (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 100;

/// A local SMTP server on `127.0.0.1` (random port) that accepts every mail and keeps it in memory.
///
/// One task serves each connection. Dropping the sink stops the listener and every open connection.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Shared {
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
}

impl Shared {
    fn snapshot(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn push(&self, mail: ReceivedMail) {
        self.mails.lock().unwrap_or_else(PoisonError::into_inner).push(mail);
        self.arrived.notify_waiters();
    }
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts serving. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// When there is no current Tokio runtime, or the socket cannot be bound.
    pub fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let shared = Arc::new(Shared::default());
        let server = runtime.spawn(crate::accept::accept_loop(listener, Arc::clone(&shared), handle_connection));
        Ok(Self { addr, shared, server })
    }

    /// The address the sink listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every mail received so far, in the order they were accepted.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.snapshot()
    }

    /// Waits until at least `count` mails have arrived and returns them all, or returns what has arrived when
    /// `timeout` runs out (possibly fewer than `count`).
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = pin!(self.shared.arrived.notified());
            notified.as_mut().enable();
            let mails = self.shared.snapshot();
            if mails.len() >= count {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.shared.snapshot();
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.server.abort();
    }
}

async fn handle_connection(stream: TcpStream, shared: Arc<Shared>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    // The connection ends on QUIT, EOF or an I/O error; an error has no one to be reported to.
    let _ = Session::default().run(&mut reader, &mut writer, &shared).await;
    let _ = writer.shutdown().await;
}

/// One line read from the client.
enum Line {
    /// A complete line, terminator included (the last line before EOF may lack it).
    Complete(Vec<u8>),
    /// The line exceeded the limit; it was read through its end and discarded.
    TooLong,
    /// The client closed the connection.
    Eof,
}

async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, limit: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let n = (&mut *reader).take(limit as u64).read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Ok(Line::Eof);
    }
    if line.ends_with(b"\n") || n < limit {
        return Ok(Line::Complete(line));
    }
    // Discard the rest of the over-long line.
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = (&mut *reader).take(limit as u64).read_until(b'\n', &mut rest).await?;
        if n == 0 || rest.ends_with(b"\n") {
            return Ok(Line::TooLong);
        }
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The state of one SMTP session (RFC 5321 §4.1.4 ordering).
#[derive(Default)]
struct Session {
    greeted: bool,
    from: Option<String>,
    to: Vec<String>,
}

impl Session {
    fn reset(&mut self) {
        self.from = None;
        self.to.clear();
    }

    async fn run<R, W>(&mut self, reader: &mut R, writer: &mut W, shared: &Shared) -> io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        reply(writer, "220 127.0.0.1 ESMTP idseal-testkit sink ready").await?;
        loop {
            let line = match read_line(reader, MAX_COMMAND_LINE).await? {
                Line::Eof => return Ok(()),
                Line::TooLong => {
                    reply(writer, "500 5.5.2 Line too long").await?;
                    continue;
                }
                Line::Complete(line) => line,
            };
            let line = String::from_utf8_lossy(trim_eol(&line)).into_owned();
            let (verb, arg) = match line.split_once(' ') {
                Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
                None => (line.to_ascii_uppercase(), ""),
            };
            match verb.as_str() {
                "EHLO" | "HELO" if arg.is_empty() => reply(writer, "501 5.5.4 Domain or address required").await?,
                "EHLO" => {
                    self.reset();
                    self.greeted = true;
                    let size = format!("250-SIZE {MAX_MESSAGE_SIZE}");
                    let hello = format!("250-127.0.0.1 greets {arg}");
                    reply_lines(writer, &[&hello, "250-8BITMIME", &size, "250 ENHANCEDSTATUSCODES"]).await?;
                }
                "HELO" => {
                    self.reset();
                    self.greeted = true;
                    reply(writer, &format!("250 127.0.0.1 greets {arg}")).await?;
                }
                "MAIL" => self.mail(writer, arg).await?,
                "RCPT" => self.rcpt(writer, arg).await?,
                "DATA" => self.data(reader, writer, arg, shared).await?,
                "RSET" => {
                    self.reset();
                    reply(writer, "250 2.0.0 OK").await?;
                }
                "NOOP" => reply(writer, "250 2.0.0 OK").await?,
                "QUIT" => {
                    reply(writer, "221 2.0.0 Bye").await?;
                    return Ok(());
                }
                "VRFY" | "EXPN" | "HELP" | "TURN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" => {
                    reply(writer, "502 5.5.1 Command not implemented").await?;
                }
                _ => reply(writer, "500 5.5.2 Command unrecognized").await?,
            }
        }
    }

    async fn mail<W: AsyncWrite + Unpin>(&mut self, writer: &mut W, arg: &str) -> io::Result<()> {
        if !self.greeted {
            return reply(writer, "503 5.5.1 Send EHLO or HELO first").await;
        }
        if self.from.is_some() {
            return reply(writer, "503 5.5.1 Nested MAIL command").await;
        }
        match path_argument(arg, "FROM:") {
            Some(path) => {
                self.from = Some(path);
                reply(writer, "250 2.1.0 Sender OK").await
            }
            None => reply(writer, "501 5.5.4 Syntax: MAIL FROM:<address>").await,
        }
    }

    async fn rcpt<W: AsyncWrite + Unpin>(&mut self, writer: &mut W, arg: &str) -> io::Result<()> {
        if self.from.is_none() {
            return reply(writer, "503 5.5.1 Need MAIL before RCPT").await;
        }
        match path_argument(arg, "TO:") {
            Some(path) if path.is_empty() => reply(writer, "501 5.1.3 Empty forward path").await,
            Some(_) if self.to.len() >= MAX_RECIPIENTS => reply(writer, "452 4.5.3 Too many recipients").await,
            Some(path) => {
                self.to.push(path);
                reply(writer, "250 2.1.5 Recipient OK").await
            }
            None => reply(writer, "501 5.5.4 Syntax: RCPT TO:<address>").await,
        }
    }

    async fn data<R, W>(&mut self, reader: &mut R, writer: &mut W, arg: &str, shared: &Shared) -> io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if !arg.is_empty() {
            return reply(writer, "501 5.5.4 DATA takes no argument").await;
        }
        if self.from.is_none() {
            return reply(writer, "503 5.5.1 Need MAIL command").await;
        }
        if self.to.is_empty() {
            return reply(writer, "503 5.5.1 Need RCPT command").await;
        }
        reply(writer, "354 Start mail input; end with <CRLF>.<CRLF>").await?;
        let mut data = Vec::new();
        let mut too_big = false;
        loop {
            let line = match read_line(reader, MAX_TEXT_LINE).await? {
                Line::Eof => return Ok(()),
                Line::TooLong => {
                    too_big = true;
                    continue;
                }
                Line::Complete(line) => line,
            };
            if trim_eol(&line) == b"." {
                break;
            }
            // RFC 5321 §4.5.2: a line starting with "." has that dot removed.
            let text = line.strip_prefix(b".").unwrap_or(&line);
            if data.len() + text.len() > MAX_MESSAGE_SIZE {
                too_big = true;
            } else {
                data.extend_from_slice(text);
            }
        }
        let from = self.from.take().unwrap_or_default();
        let to = std::mem::take(&mut self.to);
        if too_big {
            return reply(writer, "552 5.3.4 Message too big or line too long").await;
        }
        shared.push(ReceivedMail { from, to, data: String::from_utf8_lossy(&data).into_owned() });
        reply(writer, "250 2.0.0 OK: queued").await
    }
}

/// Parses `FROM:<path> [params]` / `TO:<path> [params]` (keyword case-insensitive, optional space after the
/// colon) and returns the path without its angle brackets.
fn path_argument(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    let path = inner.get(..end)?;
    if path.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(path.to_owned())
}

async fn reply<W: AsyncWrite + Unpin>(writer: &mut W, line: &str) -> io::Result<()> {
    reply_lines(writer, &[line]).await
}

async fn reply_lines<W: AsyncWrite + Unpin>(writer: &mut W, lines: &[&str]) -> io::Result<()> {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    writer.write_all(out.as_bytes()).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw client: sends lines and reads complete (possibly multi-line) replies.
    struct Client {
        reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
        writer: tokio::net::tcp::OwnedWriteHalf,
    }

    impl Client {
        async fn connect(sink: &SmtpSink) -> (Self, String) {
            let stream = TcpStream::connect(sink.addr()).await.unwrap();
            let (r, w) = stream.into_split();
            let mut client = Self { reader: BufReader::new(r), writer: w };
            let greeting = client.read_reply().await;
            (client, greeting)
        }

        async fn read_reply(&mut self) -> String {
            let mut all = String::new();
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "connection closed while reading a reply; got so far: {all:?}");
                all.push_str(&line);
                // A multi-line reply has '-' after the code on every line but the last.
                if line.as_bytes().get(3) != Some(&b'-') {
                    return all;
                }
            }
        }

        async fn send(&mut self, raw: &str) {
            self.writer.write_all(raw.as_bytes()).await.unwrap();
        }

        async fn cmd(&mut self, line: &str) -> String {
            self.send(&format!("{line}\r\n")).await;
            self.read_reply().await
        }
    }

    fn code(reply: &str) -> &str {
        &reply[..3]
    }

    #[tokio::test]
    async fn full_conversation_with_dot_unstuffing() {
        let sink = SmtpSink::start().unwrap();
        assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.addr().port()));
        let (mut c, greeting) = Client::connect(&sink).await;
        assert_eq!(code(&greeting), "220");

        let ehlo = c.cmd("EHLO client.example").await;
        assert!(ehlo.starts_with("250-"), "{ehlo}");
        assert!(ehlo.contains("250-8BITMIME\r\n"), "{ehlo}");
        assert!(ehlo.contains("SIZE "), "{ehlo}");
        assert_eq!(code(&c.cmd("NOOP").await), "250");
        assert_eq!(code(&c.cmd("mail from:<alice@example.org> BODY=8BITMIME").await), "250");
        assert_eq!(code(&c.cmd("RCPT TO:<bob@example.org>").await), "250");
        assert_eq!(code(&c.cmd("RCPT TO: <carol@example.org>").await), "250");
        assert_eq!(code(&c.cmd("DATA").await), "354");
        c.send("Subject: hi\r\n\r\n..leading dot\r\nline\r\n.\r\n").await;
        assert_eq!(code(&c.read_reply().await), "250");

        // A second transaction on the same connection, after RSET of a half-started one.
        assert_eq!(code(&c.cmd("MAIL FROM:<x@example.org>").await), "250");
        assert_eq!(code(&c.cmd("RSET").await), "250");
        assert_eq!(code(&c.cmd("MAIL FROM:<>").await), "250");
        assert_eq!(code(&c.cmd("RCPT TO:<dave@example.org>").await), "250");
        assert_eq!(code(&c.cmd("DATA").await), "354");
        c.send("\r\nbody only\r\n.\r\n").await;
        assert_eq!(code(&c.read_reply().await), "250");
        assert_eq!(code(&c.cmd("QUIT").await), "221");

        let mails = sink.wait_for(2, Duration::from_secs(5)).await;
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].from, "alice@example.org");
        assert_eq!(mails[0].to, vec!["bob@example.org".to_owned(), "carol@example.org".to_owned()]);
        assert_eq!(mails[0].data, "Subject: hi\r\n\r\n.leading dot\r\nline\r\n");
        assert_eq!(mails[0].header("subject").as_deref(), Some("hi"));
        assert_eq!(mails[0].body_text(), ".leading dot\r\nline\r\n");
        assert_eq!(mails[1].from, "");
        assert_eq!(mails[1].to, vec!["dave@example.org".to_owned()]);
        assert_eq!(sink.messages(), mails);
    }

    #[tokio::test]
    async fn bad_commands_and_order() {
        let sink = SmtpSink::start().unwrap();
        let (mut c, _) = Client::connect(&sink).await;
        assert_eq!(code(&c.cmd("MAIL FROM:<a@example.org>").await), "503", "MAIL before EHLO");
        assert_eq!(code(&c.cmd("EHLO").await), "501", "EHLO without domain");
        assert_eq!(code(&c.cmd("HELO client.example").await), "250");
        assert_eq!(code(&c.cmd("RCPT TO:<b@example.org>").await), "503", "RCPT before MAIL");
        assert_eq!(code(&c.cmd("DATA").await), "503", "DATA before MAIL");
        assert_eq!(code(&c.cmd("MAIL FROM:a@example.org").await), "501", "no angle brackets");
        assert_eq!(code(&c.cmd("MAIL TO:<a@example.org>").await), "501");
        assert_eq!(code(&c.cmd("MAIL FROM:<a@example.org>").await), "250");
        assert_eq!(code(&c.cmd("MAIL FROM:<a@example.org>").await), "503", "nested MAIL");
        assert_eq!(code(&c.cmd("DATA").await), "503", "DATA before RCPT");
        assert_eq!(code(&c.cmd("RCPT TO:<>").await), "501");
        assert_eq!(code(&c.cmd("VRFY bob").await), "502");
        assert_eq!(code(&c.cmd("STARTTLS").await), "502");
        assert_eq!(code(&c.cmd("FROBNICATE").await), "500");
        assert_eq!(code(&c.cmd("").await), "500");
        assert_eq!(code(&c.cmd(&"X".repeat(5000)).await), "500", "over-long line");
        assert_eq!(code(&c.cmd("RCPT TO:<b@example.org>").await), "250", "session still usable");
        assert_eq!(code(&c.cmd("DATA extra").await), "501");
        assert_eq!(code(&c.cmd("QUIT").await), "221");
        assert!(sink.wait_for(1, Duration::from_millis(200)).await.is_empty());
    }

    #[tokio::test]
    async fn wait_for_times_out_and_drop_stops_the_sink() {
        let sink = SmtpSink::start().unwrap();
        let addr = sink.addr();
        let started = tokio::time::Instant::now();
        assert!(sink.wait_for(1, Duration::from_millis(100)).await.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(100));

        let (mut open, _) = Client::connect(&sink).await;
        drop(sink);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(TcpStream::connect(addr).await.is_err(), "listener must be closed");
        // The open connection was closed too: the next read sees EOF (or a reset).
        open.send("NOOP\r\n").await;
        let mut line = String::new();
        let read = open.reader.read_line(&mut line).await;
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?} {line:?}");
    }

    #[tokio::test]
    async fn concurrent_connections() {
        let sink = SmtpSink::start().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..5 {
            let addr = sink.addr();
            tasks.spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let (r, w) = stream.into_split();
                let mut c = Client { reader: BufReader::new(r), writer: w };
                c.read_reply().await;
                c.cmd("EHLO x").await;
                c.cmd(&format!("MAIL FROM:<s{i}@example.org>")).await;
                c.cmd("RCPT TO:<r@example.org>").await;
                c.cmd("DATA").await;
                c.send(&format!("Subject: {i}\r\n\r\nbody {i}\r\n.\r\n")).await;
                assert_eq!(&c.read_reply().await[..3], "250");
                c.cmd("QUIT").await;
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let mails = sink.wait_for(5, Duration::from_secs(5)).await;
        assert_eq!(mails.len(), 5);
    }
}
