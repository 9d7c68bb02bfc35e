//! libconfig number literals: decimal and hex integers (optional `L`/`LL`), and floats.
//!
//! Pure text -> token. Integers are 64-bit as libconfig's int64 is; a literal that does not fit
//! is an error rather than libconfig's silent truncation. It does not decide which integers a key
//! accepts: the typed layer checks ranges.

use super::lexer::Tok;

/// Classifies a number-like word (digits, letters, `.`, signs after an exponent marker).
pub fn classify(text: &str) -> Result<Tok, String> {
    let invalid = || format!("invalid number `{text}`");
    let (sign, body) = match text.as_bytes().first() {
        Some(b'+' | b'-') => text.split_at(1),
        _ => ("", text),
    };
    // An `L` or `LL` suffix marks int64 in libconfig; every integer here is 64-bit already.
    let unsuffixed = body.strip_suffix("LL").or_else(|| body.strip_suffix('L'));

    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let hex = hex
            .strip_suffix("LL")
            .or_else(|| hex.strip_suffix('L'))
            .unwrap_or(hex);
        if !sign.is_empty() || hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let value = u64::from_str_radix(hex, 16).map_err(|_| out_of_range(text))?;
        return i64::try_from(value)
            .map(Tok::Int)
            .map_err(|_| out_of_range(text));
    }
    let digits = unsuffixed.unwrap_or(body);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let signed = format!("{sign}{digits}");
        return signed
            .parse::<i64>()
            .map(Tok::Int)
            .map_err(|_| out_of_range(text));
    }
    if is_float(body) {
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
            _ => Err(out_of_range(text)),
        };
    }
    Err(invalid())
}

fn out_of_range(text: &str) -> String {
    format!("number `{text}` is out of range")
}

/// libconfig's float: `D*.D*[eE][+-]D+` or `D+[eE][+-]D+`, with at least one mantissa digit
/// (libconfig would read a lone `.` as 0.0; nobody means that).
fn is_float(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int_part)
        && frac.map_or(true, all_digits)
        && (int_part.len() + frac.map_or(0, str::len)) > 0;
    let exponent_ok = match exponent {
        None => frac.is_some(),
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
    };
    mantissa_ok && exponent_ok
}
