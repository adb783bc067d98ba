//! Policies and their text form (`"5/1m"`, `"15m"`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a policy counts attempts of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The client IP address.
    Ip,
    /// An account (e-mail address or account id).
    Account,
    /// A wallet address.
    Wallet,
    /// An enrollment's token id.
    TokenId,
    /// An OAuth client or an access token's subject.
    Client,
    /// An admin operator.
    Operator,
}

impl KeyKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Account => "account",
            Self::Wallet => "wallet",
            Self::TokenId => "token_id",
            Self::Client => "client",
            Self::Operator => "operator",
        }
    }
}

/// A malformed window or duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}`: {reason}")]
pub struct ParseError {
    text: String,
    reason: &'static str,
}

fn perr(text: &str, reason: &'static str) -> ParseError {
    ParseError { text: text.chars().take(40).collect(), reason }
}

/// `limit` attempts per `period`, written `"5/1m"` (units s, m, h, d).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Attempts allowed per window.
    pub limit: u32,
    /// Window length.
    pub period: Duration,
}

impl FromStr for Window {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, p) = s.split_once('/').ok_or_else(|| perr(s, "expected <limit>/<period>, like 5/1m"))?;
        let limit: u32 = n.trim().parse().map_err(|_| perr(s, "limit must be a whole number"))?;
        if limit == 0 {
            return Err(perr(s, "limit must be at least 1"));
        }
        Ok(Self { limit, period: parse_duration(p.trim())? })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, format_duration(self.period))
    }
}

/// Parse `"30s"`, `"15m"`, `"1h"`, `"1d"` (a whole number and one unit; at most 366 days).
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| perr(s, "missing unit (s, m, h or d)"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| perr(s, "expected a whole number before the unit"))?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(perr(s, "unit must be s, m, h or d")),
    };
    let secs = n
        .checked_mul(mul)
        .filter(|&v| v > 0 && v <= 366 * 86400)
        .ok_or_else(|| perr(s, "must be between 1s and 366d"))?;
    Ok(Duration::from_secs(secs))
}

/// The shortest text form of a duration.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s > 0 && s.is_multiple_of(86400) => format!("{}d", s / 86400),
        _ if s > 0 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s > 0 && s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_str!(Window);

/// A named rate-limit policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Name, used in bucket ids and metrics.
    pub name: String,
    /// Short window.
    pub burst: Option<Window>,
    /// Long window.
    pub sustained: Option<Window>,
    /// Lockout ladder: the first lockout lasts `lockout[0]`, the next `lockout[1]`, … the last
    /// rung repeats. Empty: no lockout, only the windows.
    pub lockout: Vec<Duration>,
    /// A key with no lockout for this long starts the ladder again.
    pub lockout_reset: Duration,
}

impl Policy {
    /// A policy with the given windows and no lockout.
    pub fn new(name: impl Into<String>, burst: Option<Window>, sustained: Option<Window>) -> Self {
        Self { name: name.into(), burst, sustained, lockout: Vec::new(), lockout_reset: Duration::from_secs(86400) }
    }

    /// The same policy with a lockout ladder.
    #[must_use]
    pub fn with_lockout(mut self, ladder: Vec<Duration>) -> Self {
        self.lockout = ladder;
        self
    }
}
