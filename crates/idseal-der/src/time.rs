//! Civil-date arithmetic for X.509 times (proleptic Gregorian, UTC, no leap seconds).

use crate::{DerError, tag};

const fn bad(reason: &'static str) -> DerError {
    DerError::new(reason)
}

/// `(year, month, day, hour, minute, second)` of Unix seconds.
pub(crate) fn civil(secs: i64) -> Result<(i64, u32, u32, u32, u32, u32), DerError> {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let small = |v: i64| u32::try_from(v).map_err(|_| bad("time out of range"));
    Ok((y, small(m)?, small(d)?, small(sod / 3600)?, small(sod / 60 % 60)?, small(sod % 60)?))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of a UTCTime or GeneralizedTime content (whole seconds, `Z`).
pub(crate) fn parse(t: u8, content: &[u8]) -> Result<i64, DerError> {
    let text = std::str::from_utf8(content).map_err(|_| bad("time is not ASCII"))?;
    let digits = text.strip_suffix('Z').ok_or(bad("time is not UTC (Z)"))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("time has non-digits"));
    }
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|s| s.parse::<i64>().ok()).ok_or(bad("bad time"));
    let (y, rest) = match (t, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy = num(0, 2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (tag::GENERALIZED_TIME, 14) => (num(0, 4)?, 4),
        _ => return Err(bad("time is neither UTCTime nor GeneralizedTime (seconds, Z)")),
    };
    let (mo, d, h, mi, s) = (
        num(rest, rest + 2)?,
        num(rest + 2, rest + 4)?,
        num(rest + 4, rest + 6)?,
        num(rest + 6, rest + 8)?,
        num(rest + 8, rest + 10)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || !(1..=month_days).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return Err(bad("bad time"));
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}
