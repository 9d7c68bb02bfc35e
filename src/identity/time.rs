//! Certificate times: ASN.1 UTCTime and GeneralizedTime <-> seconds since the Unix epoch.
//!
//! Proleptic Gregorian calendar over years 0000 to 9999, because the ENF vectors' notBefore is
//! 0000-01-01 (which webpki refuses). Only the RFC 5280 forms are accepted: `YYMMDDHHMMSSZ` and
//! `YYYYMMDDHHMMSSZ`, no fractions, no offsets. Pure; no clock is read here.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not the RFC 5280 form (length, digits, the final `Z`).
    Format,
    /// A month, day, hour, minute or second out of range.
    Range,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Format => write!(f, "time is not YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ"),
            Error::Range => write!(f, "time has a field out of range"),
        }
    }
}

/// A UTCTime's contents (years 50-99 are 19xx, 00-49 are 20xx, per RFC 5280).
pub fn utc_time(text: &[u8]) -> Result<i64, Error> {
    if text.len() != 13 {
        return Err(Error::Format);
    }
    let yy = digits(&text[0..2])?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    fields(year, &text[2..])
}

/// A GeneralizedTime's contents.
pub fn generalized_time(text: &[u8]) -> Result<i64, Error> {
    if text.len() != 15 {
        return Err(Error::Format);
    }
    fields(digits(&text[0..4])?, &text[4..])
}

/// `MMDDHHMMSSZ` after the year.
fn fields(year: i64, rest: &[u8]) -> Result<i64, Error> {
    if rest.len() != 11 || rest[10] != b'Z' {
        return Err(Error::Format);
    }
    let month = digits(&rest[0..2])?;
    let day = digits(&rest[2..4])?;
    let (hour, min, sec) = (
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(Error::Range);
    }
    if hour > 23 || min > 59 || sec > 59 {
        return Err(Error::Range);
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + min * 60 + sec)
}

fn digits(text: &[u8]) -> Result<i64, Error> {
    text.iter().try_fold(0i64, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + i64::from(b - b'0'))
        } else {
            Err(Error::Format)
        }
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number from `days_from_civil`.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD HH:MM:SS UTC`, for messages.
pub fn format(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3_600, rem % 3_600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let table: &[(&[u8], bool, Result<i64, Error>)] = &[
            (b"700101000000Z", false, Ok(0)),
            (b"491231235959Z", false, Ok(2_524_607_999)),
            (b"500101000000Z", false, Ok(-631_152_000)),
            (b"19700101000000Z", true, Ok(0)),
            (b"00000101000000Z", true, Ok(-62_167_219_200)),
            (b"99991231235959Z", true, Ok(253_402_300_799)),
            (b"20000229120000Z", true, Ok(951_825_600)),
            (b"19000229120000Z", true, Err(Error::Range)),
            (b"20231301000000Z", true, Err(Error::Range)),
            (b"20230100000000Z", true, Err(Error::Range)),
            (b"20230101240000Z", true, Err(Error::Range)),
            (b"20230101006000Z", true, Err(Error::Range)),
            (b"20230101000060Z", true, Err(Error::Range)),
            (b"20230101000000+", true, Err(Error::Format)),
            (b"2023010100000Z", true, Err(Error::Format)),
            (b"2023-101000000Z", true, Err(Error::Format)),
            (b"20230101000000.5Z", true, Err(Error::Format)),
            (b"", false, Err(Error::Format)),
        ];
        for (text, generalized, want) in table {
            let got = if *generalized {
                generalized_time(text)
            } else {
                utc_time(text)
            };
            assert_eq!(&got, want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format(-62_167_219_200), "0000-01-01 00:00:00 UTC");
        assert_eq!(format(253_402_300_799), "9999-12-31 23:59:59 UTC");
        assert_eq!(format(951_825_600), "2000-02-29 12:00:00 UTC");
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
