//! A mail as the sink received it, with helpers to read its headers, body and links.

use crate::decode;

/// One mail accepted by the [`SmtpSink`](crate::SmtpSink): the envelope and the message as sent after `DATA`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets; empty for the null reverse path `<>`.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets, in the order given.
    pub to: Vec<String>,
    /// The message (headers, blank line, body), dot-unstuffed, with the line endings the client sent and without
    /// the terminating `.` line.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header called `name` (case-insensitive), unfolded, trimmed, and with RFC 2047
    /// encoded words in UTF-8 decoded; `None` if the header is absent.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let mut lines = head.lines().peekable();
        while let Some(line) = lines.next() {
            let Some((field, value)) = line.split_once(':') else { continue };
            if line.starts_with([' ', '\t']) || !field.trim_end().eq_ignore_ascii_case(name) {
                continue;
            }
            let mut value = value.trim().to_owned();
            while let Some(cont) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(cont.trim());
                lines.next();
            }
            return Some(decode::encoded_words(&value));
        }
        None
    }

    /// The body, decoded according to its `Content-Transfer-Encoding` (quoted-printable or base64; anything else
    /// is returned as sent) and read as UTF-8 (invalid sequences replaced). Multipart bodies are not split.
    #[must_use]
    pub fn body_text(&self) -> String {
        let (_, body) = self.split();
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default();
        let encoding = encoding.trim();
        let bytes = if encoding.eq_ignore_ascii_case("quoted-printable") {
            decode::quoted_printable(body)
        } else if encoding.eq_ignore_ascii_case("base64") {
            decode::base64(body)
        } else {
            return body.to_owned();
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The first URL in the decoded body that starts with `prefix`, up to the first whitespace, `<`, `>` or `"`.
    #[must_use]
    pub fn find_link(&self, prefix: &str) -> Option<String> {
        if prefix.is_empty() {
            return None;
        }
        let body = self.body_text();
        let start = body.find(prefix)?;
        let link = body.get(start..)?;
        let end = link.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"')).unwrap_or(link.len());
        link.get(..end).map(str::to_owned)
    }

    /// Splits `data` into the header section and the body at the first empty line.
    fn split(&self) -> (&str, &str) {
        let crlf = self.data.find("\r\n\r\n").map(|i| (i, i + 4));
        let lf = self.data.find("\n\n").map(|i| (i, i + 2));
        let split = match (crlf, lf) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        match split {
            Some((head_end, body_start)) => {
                (self.data.get(..head_end).unwrap_or_default(), self.data.get(body_start..).unwrap_or_default())
            }
            None => (self.data.as_str(), ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(data: &str) -> ReceivedMail {
        ReceivedMail { from: "a@example.org".into(), to: vec!["b@example.org".into()], data: data.into() }
    }

    #[test]
    fn headers_are_case_insensitive_unfolded_and_decoded() {
        let m = mail(
            "From: idseal <no-reply@localhost>\r\nsubject: =?utf-8?b?Q2Fmw6k=?=\r\nX-Long: one\r\n two\r\n\r\nbody\r\n",
        );
        assert_eq!(m.header("From").as_deref(), Some("idseal <no-reply@localhost>"));
        assert_eq!(m.header("Subject").as_deref(), Some("Café"));
        assert_eq!(m.header("x-long").as_deref(), Some("one two"));
        assert_eq!(m.header("To"), None);
        assert_eq!(m.body_text(), "body\r\n");
    }

    #[test]
    fn quoted_printable_body_and_link() {
        let m = mail(
            "Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nOpen <https://id.example/verify?t=\r\n=3Dabc&x=3D1> now\r\n",
        );
        assert_eq!(m.body_text(), "Open <https://id.example/verify?t=abc&x=1> now\r\n");
        assert_eq!(m.find_link("https://id.example/").as_deref(), Some("https://id.example/verify?t=abc&x=1"));
        assert_eq!(m.find_link("https://other/"), None);
    }

    #[test]
    fn base64_body() {
        let m = mail("Content-Transfer-Encoding: base64\r\n\r\naHR0cDovL2gvcD9hPTEgeQ==\r\n");
        assert_eq!(m.body_text(), "http://h/p?a=1 y");
        assert_eq!(m.find_link("http://h/").as_deref(), Some("http://h/p?a=1"));
    }
}
