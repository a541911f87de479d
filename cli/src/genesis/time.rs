//! Genesis time on the command line: `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (UTC, proleptic Gregorian,
//! years 1970 to 9999), or milliseconds since the Unix epoch. Nothing else is accepted (no local
//! time, no offsets), so two operators typing the same text get the same chain ID.

use anyhow::{bail, Result};

/// Parse a genesis time; see the module doc.
pub fn parse_time(s: &str) -> Result<u64> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map_err(|_| anyhow::anyhow!("genesis time {s:?} is out of range"));
    }
    let bad =
        || anyhow::anyhow!("genesis time {s:?}: expected UTC as 2027-01-04T09:00:00Z, or milliseconds since 1970");
    let b = s.as_bytes();
    if !(b.len() == 20 || b.len() == 24)
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    if *b.last().unwrap_or(&0) != b'Z' {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<i64> {
        let t = &s[from..to];
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, sec) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let ms = if b.len() == 24 {
        if b[19] != b'.' {
            return Err(bad());
        }
        num(20, 23)?
    } else {
        0
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if y < 1970 || !(1..=12).contains(&mo) || d < 1 || d > mdays[(mo - 1) as usize] || h > 23 || mi > 59 || sec > 59 {
        bail!("genesis time {s:?} is not a valid UTC time from 1970 on");
    }
    // Howard Hinnant's days_from_civil.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000 + ms) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::verify::format_utc;

    #[test]
    fn round_trips_with_the_ledger_formatter() {
        for ms in [0u64, 951_782_400_000, 1_767_225_600_000, 1_767_225_600_123, 4_102_444_799_999, 253_402_300_799_000]
        {
            assert_eq!(parse_time(&format_utc(ms)).unwrap(), ms, "{}", format_utc(ms));
        }
        assert_eq!(parse_time("2026-01-01T00:00:00Z").unwrap(), 1_767_225_600_000);
        assert_eq!(parse_time("1767225600000").unwrap(), 1_767_225_600_000);
    }

    #[test]
    fn refuses_what_is_not_utc() {
        for s in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+08:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-01-01T00:00:00.5Z",
            "+026-01-01T00:00:00Z",
            "now",
            "99999999999999999999999",
        ] {
            assert!(parse_time(s).is_err(), "{s:?} accepted");
        }
    }
}
