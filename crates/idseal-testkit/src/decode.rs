//! Small decoders for the transfer encodings a mail body or header may use: quoted-printable (RFC 2045 §6.7),
//! base64 (RFC 2045 §6.8) and encoded words (RFC 2047).
//!
//! They are lenient, as a test reader should be: malformed input is kept as is (quoted-printable) or skipped
//! (characters outside the base64 alphabet), never an error.

/// Decodes quoted-printable: `=` at the end of a line is a soft line break and is removed with the line break;
/// `=XX` (hex) is the byte `XX`; anything else is kept literally.
pub(crate) fn quoted_printable(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = bytes.get(i + 1..).unwrap_or_default();
        // Soft line break: "=" followed by optional trailing whitespace and CRLF or LF.
        let ws = rest.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
        let after_ws = rest.get(ws..).unwrap_or_default();
        if after_ws.starts_with(b"\r\n") {
            i += 1 + ws + 2;
            continue;
        }
        if after_ws.starts_with(b"\n") {
            i += 1 + ws + 1;
            continue;
        }
        if after_ws.is_empty() {
            // "=" at the very end of the input is a soft break as well.
            break;
        }
        match (rest.first().copied().and_then(hex), rest.get(1).copied().and_then(hex)) {
            (Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// Decodes base64 (standard alphabet, padding optional), skipping whitespace and any other character outside the
/// alphabet, as RFC 2045 §6.8 asks of a decoder.
pub(crate) fn base64(input: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in input.bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = base64_value(c) else { continue };
        acc = ((acc << 6) | u32::from(v)) & 0x00ff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            let [byte, ..] = (acc >> bits).to_le_bytes();
            out.push(byte);
        }
    }
    out
}

/// Decodes the RFC 2047 encoded words (`=?charset?B|Q?text?=`) in a header value. Only UTF-8 and US-ASCII
/// charsets are decoded; other words are left as they are. Whitespace between two adjacent encoded words is
/// dropped, as §6.2 says.
pub(crate) fn encoded_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_ws = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, consumed)) = rest.strip_prefix("=?").and_then(encoded_word) {
            if !last_was_word {
                out.push_str(&pending_ws);
            }
            pending_ws.clear();
            out.push_str(&decoded);
            rest = rest.get(consumed + 2..).unwrap_or_default();
            last_was_word = true;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
            pending_ws.push(c);
        } else {
            out.push_str(&pending_ws);
            pending_ws.clear();
            out.push(c);
            last_was_word = false;
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out.push_str(&pending_ws);
    out
}

/// Decodes one encoded word; `s` starts after `=?`. Returns the text and the length consumed from `s`
/// (through the closing `?=`).
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let (charset, rest) = s.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = rest.get(..end)?;
    if text.contains(char::is_whitespace) {
        return None;
    }
    let charset = charset.split('*').next().unwrap_or_default();
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
        return None;
    }
    let bytes = if encoding.eq_ignore_ascii_case("b") {
        base64(text)
    } else if encoding.eq_ignore_ascii_case("q") {
        quoted_printable(&text.replace('_', " "))
    } else {
        return None;
    };
    let consumed = charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((String::from_utf8_lossy(&bytes).into_owned(), consumed))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_soft_breaks_and_hex() {
        assert_eq!(quoted_printable("caf=C3=A9 ok=\r\nay=3D1\r\nnext"), "café okay=1\r\nnext".as_bytes());
        assert_eq!(quoted_printable("a=  \nb"), b"ab");
        assert_eq!(quoted_printable("lower=c3=a9"), "loweré".as_bytes());
        assert_eq!(quoted_printable("bad=ZZ end="), b"bad=ZZ end");
    }

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, enc) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64(enc), plain.as_bytes());
        }
        assert_eq!(base64("Zm9v\r\nYmFy"), b"foobar");
    }

    #[test]
    fn rfc2047_words() {
        assert_eq!(encoded_words("=?utf-8?b?Q2Fmw6k=?= =?UTF-8?Q?_au_lait?="), "Café au lait");
        assert_eq!(encoded_words("plain subject"), "plain subject");
        assert_eq!(encoded_words("Hi =?utf-8?q?J=C3=B6rg?=!"), "Hi Jörg!");
        assert_eq!(encoded_words("=?iso-8859-1?q?x?="), "=?iso-8859-1?q?x?=");
    }
}
