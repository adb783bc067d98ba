//! RFC 8785 JSON Canonicalization Scheme (JCS): the one canonical JSON of idseal, used for the
//! audit log's entry details and for the `pq_sig` of ID tokens, so that a third party with a
//! stock JCS library reproduces the exact bytes.

use std::fmt::Write as _;

use serde_json::Value;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// The largest integer magnitude an IEEE double holds exactly (ECMAScript
/// `Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A value JCS cannot represent exactly (refused rather than rounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JcsError(pub &'static str);

impl std::fmt::Display for JcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot canonicalise: {}", self.0)
    }
}

impl std::error::Error for JcsError {}

/// The RFC 8785 (JCS) canonical form of a JSON value: object members sorted by the UTF-16
/// code units of their names, no whitespace, minimal string escaping, and numbers in the
/// ECMAScript form. Numbers are limited to what JCS represents exactly and what serde_json
/// holds: integers of magnitude below 2^53, and finite non-integers in `[1e-6, 1e21)`;
/// anything else is refused rather than rounded.
pub fn canonical_json(value: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write_value(value, &mut out, 0)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String, depth: usize) -> Result<(), JcsError> {
    if depth > MAX_DEPTH {
        return Err(JcsError("nested too deeply"));
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(v, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(n: &serde_json::Number, out: &mut String) -> Result<(), JcsError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(JcsError("integer beyond 2^53"));
        }
        let _ = write!(out, "{u}");
        return Ok(());
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(JcsError("integer beyond 2^53"));
        }
        let _ = write!(out, "{i}");
        return Ok(());
    }
    let f = n.as_f64().ok_or(JcsError("number not representable"))?;
    if !f.is_finite() {
        return Err(JcsError("non-finite number"));
    }
    if f == 0.0 {
        out.push('0');
        return Ok(());
    }
    let a = f.abs();
    if a.fract() == 0.0 && a <= MAX_SAFE_INTEGER as f64 {
        let _ = write!(out, "{f:.0}");
        return Ok(());
    }
    if !(1e-6..1e21).contains(&a) {
        return Err(JcsError("number needs exponent notation"));
    }
    // Rust prints the shortest digits that round-trip, without exponent: the ECMAScript
    // form in this range.
    let _ = write!(out, "{f}");
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn jcs_sorts_by_utf16_and_escapes_minimally() {
        let v = json!({"b": 1, "a": [true, null, "x\"\\\n\u{1}é"], "\u{e000}": 0, "\u{1f600}": 0});
        // U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000.
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"a\":[true,null,\"x\\\"\\\\\\n\\u0001é\"],\"b\":1,\"\u{1f600}\":0,\"\u{e000}\":0}"
        );
    }

    #[test]
    fn jcs_numbers() {
        assert_eq!(canonical_json(&json!([1.5, -0.0, 2.0, -7, 0.000001])).unwrap(), "[1.5,0,2,-7,0.000001]");
        assert!(canonical_json(&json!(1e300)).is_err());
        assert!(canonical_json(&json!(u64::MAX)).is_err());
        assert!(canonical_json(&json!(1e-7)).is_err());
    }
}
