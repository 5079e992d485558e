//! Interpretation of literal text: what an unquoted scalar is (boolean, integer
//! with size suffix, float, variable reference, bcrypt hash, plain string), size
//! strings, and Go-style duration strings.
//!
//! Owns: [`classify`], [`parse_int_with_suffix`], [`parse_size_str`],
//! [`parse_duration`]. Must not: know configuration keys, positions, or I/O.

use std::time::Duration;

/// What an unquoted scalar turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Bool(bool),
    /// `suffixed` is true when the literal had a unit suffix (`2m`, `10GB`).
    Integer {
        value: i64,
        suffixed: bool,
    },
    Float(f64),
    /// `$NAME`: a reference to resolve (the name without `$`).
    Variable(String),
    String(String),
}

/// Prefixes of bcrypt hashes, which are taken literally although they start with `$`.
const BCRYPT_PREFIXES: [&str; 4] = ["$2a$", "$2b$", "$2x$", "$2y$"];

/// Classifies a non-empty unquoted scalar. `Err` carries a message for integers
/// that are syntactically fine but do not fit in 64 bits.
pub(crate) fn classify(text: &str) -> Result<Scalar, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => return Ok(Scalar::Bool(true)),
        "false" | "no" | "off" => return Ok(Scalar::Bool(false)),
        _ => {}
    }
    if let Some(name) = text.strip_prefix('$') {
        if BCRYPT_PREFIXES.iter().any(|p| text.starts_with(p)) {
            return Ok(Scalar::String(text.to_string()));
        }
        return Ok(Scalar::Variable(name.to_string()));
    }
    if let Some(r) = parse_int_with_suffix(text) {
        let (value, suffixed) = r?;
        return Ok(Scalar::Integer { value, suffixed });
    }
    if is_float_syntax(text) {
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Scalar::Float(f)),
            _ => Err(format!("float '{text}' is out of range")),
        };
    }
    Ok(Scalar::String(text.to_string()))
}

/// `-?[0-9]+\.[0-9]+`
fn is_float_syntax(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    match t.split_once('.') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The multiplier for an integer suffix (case-insensitive), `None` if unknown.
fn suffix_multiplier(suffix: &str) -> Option<i64> {
    const K: i64 = 1000;
    const KI: i64 = 1024;
    let (base, exp) = match suffix.to_ascii_lowercase().as_str() {
        "" => return Some(1),
        "k" => (K, 1),
        "kb" | "ki" | "kib" => (KI, 1),
        "m" => (K, 2),
        "mb" | "mi" | "mib" => (KI, 2),
        "g" => (K, 3),
        "gb" | "gi" | "gib" => (KI, 3),
        "t" => (K, 4),
        "tb" | "ti" | "tib" => (KI, 4),
        "p" => (K, 5),
        "pb" | "pi" | "pib" => (KI, 5),
        "e" => (K, 6),
        "eb" | "ei" | "eib" => (KI, 6),
        _ => return None,
    };
    base.checked_pow(exp)
}

/// Parses `-?[0-9]+(suffix)?`. `None` when the text does not have that shape
/// (it is then a string); `Some(Err)` when it overflows 64 bits.
/// On success returns the value and whether a suffix was present.
pub(crate) fn parse_int_with_suffix(text: &str) -> Option<Result<(i64, bool), String>> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits_end = t
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(t.len());
    if digits_end == 0 {
        return None;
    }
    let (digits, suffix) = t.split_at(digits_end);
    let mult = suffix_multiplier(suffix)?;
    let out_of_range = || format!("integer '{text}' is out of range");
    let magnitude: i128 = match digits.parse::<i128>() {
        Ok(m) => m,
        Err(_) => return Some(Err(out_of_range())),
    };
    let signed = if neg { -magnitude } else { magnitude };
    let value = match signed.checked_mul(i128::from(mult)) {
        Some(v) => v,
        None => return Some(Err(out_of_range())),
    };
    match i64::try_from(value) {
        Ok(v) => Some(Ok((v, !suffix.is_empty()))),
        Err(_) => Some(Err(out_of_range())),
    }
}

/// Parses a size given as a string: `"10G"`, `"512M"` (single letters K/M/G/T are
/// binary multiples, as nats-server's `getStorageSize`), or any integer literal
/// with a suffix (`"10GB"`, `"1k"`, `"100"`).
pub(crate) fn parse_size_str(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("expected a size like 1024, \"512MB\" or \"10G\", got {text:?}");
    if t.is_empty() {
        return Err(bad());
    }
    for (letter, shift) in [('K', 10u32), ('M', 20), ('G', 30), ('T', 40)] {
        if let Some(prefix) = t.strip_suffix(letter) {
            if let Ok(n) = prefix.parse::<i64>() {
                return n.checked_mul(1i64 << shift).ok_or_else(bad);
            }
        }
    }
    match parse_int_with_suffix(t) {
        Some(Ok((v, _))) => Ok(v),
        Some(Err(e)) => Err(e),
        None => Err(bad()),
    }
}

/// Parses a Go duration string (`"2m"`, `"1h30m"`, `"500ms"`, `"1.5s"`, `"0"`).
/// Negative durations are rejected.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {text:?}: {why}");
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        // Integer part.
        let int_end = s
            .bytes()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(s.len());
        let int_digits = &s[..int_end];
        s = &s[int_end..];
        // Fraction part.
        let mut frac_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let end = rest
                .bytes()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            frac_digits = &rest[..end];
            s = &rest[end..];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(bad("expected a number"));
        }
        // Unit.
        let unit_end = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        let mult: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(bad("missing unit (use ns, us, ms, s, m or h)")),
            _ => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        let int: u128 = if int_digits.is_empty() {
            0
        } else if int_digits.len() > 30 {
            return Err(bad("too large"));
        } else {
            int_digits.parse().map_err(|_| bad("too large"))?
        };
        // Keep at most 19 fraction digits (more cannot matter at ns resolution).
        let frac_digits = &frac_digits[..frac_digits.len().min(19)];
        let (frac, scale): (u128, u128) = if frac_digits.is_empty() {
            (0, 1)
        } else {
            let f = frac_digits.parse().map_err(|_| bad("bad fraction"))?;
            (f, 10u128.pow(frac_digits.len() as u32))
        };
        let part = int
            .checked_mul(mult)
            .and_then(|v| v.checked_add(frac * mult / scale))
            .ok_or_else(|| bad("too large"))?;
        total = total.checked_add(part).ok_or_else(|| bad("too large"))?;
    }
    if negative && total != 0 {
        return Err(bad("must not be negative"));
    }
    let nanos = u64::try_from(total).map_err(|_| bad("too large"))?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64, suffixed: bool) -> Scalar {
        Scalar::Integer { value: v, suffixed }
    }

    #[test]
    fn classify_scalars() {
        assert_eq!(classify("TRUE"), Ok(Scalar::Bool(true)));
        assert_eq!(classify("Off"), Ok(Scalar::Bool(false)));
        assert_eq!(classify("yes"), Ok(Scalar::Bool(true)));
        assert_eq!(classify("no"), Ok(Scalar::Bool(false)));
        assert_eq!(classify("42"), Ok(int(42, false)));
        assert_eq!(classify("-1"), Ok(int(-1, false)));
        assert_eq!(classify("0.5"), Ok(Scalar::Float(0.5)));
        assert_eq!(classify("-2.25"), Ok(Scalar::Float(-2.25)));
        assert_eq!(classify("0.0.0.0"), Ok(Scalar::String("0.0.0.0".into())));
        assert_eq!(classify("3secret"), Ok(Scalar::String("3secret".into())));
        assert_eq!(classify("1.5s"), Ok(Scalar::String("1.5s".into())));
        assert_eq!(classify("$FOO"), Ok(Scalar::Variable("FOO".into())));
        for h in ["$2a$11$abc", "$2b$x", "$2x$y", "$2y$z"] {
            assert_eq!(classify(h), Ok(Scalar::String(h.into())));
        }
        assert!(classify("99999999999999999999").is_err());
        assert!(classify("9999999999999999e").is_err());
    }

    #[test]
    fn suffixes() {
        let cases: &[(&str, i64)] = &[
            ("1k", 1000),
            ("1K", 1000),
            ("1kb", 1024),
            ("1KI", 1024),
            ("1kib", 1024),
            ("2m", 2_000_000),
            ("2MB", 2 << 20),
            ("2mi", 2 << 20),
            ("2MiB", 2 << 20),
            ("1g", 1_000_000_000),
            ("10GB", 10 << 30),
            ("1gi", 1 << 30),
            ("1gib", 1 << 30),
            ("1t", 1_000_000_000_000),
            ("1tb", 1 << 40),
            ("1p", 1_000_000_000_000_000),
            ("1pb", 1 << 50),
            ("1e", 1_000_000_000_000_000_000),
            ("1eb", 1 << 60),
            ("-1k", -1000),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), Ok(int(*want, true)), "{text}");
        }
        assert_eq!(classify("8eb"), Err("integer '8eb' is out of range".into()));
        assert_eq!(classify("1kk"), Ok(Scalar::String("1kk".into())));
        assert_eq!(classify("1e5"), Ok(Scalar::String("1e5".into())));
    }

    #[test]
    fn size_strings() {
        assert_eq!(parse_size_str("10G"), Ok(10 << 30));
        assert_eq!(parse_size_str("1K"), Ok(1024));
        assert_eq!(parse_size_str("512MB"), Ok(512 << 20));
        assert_eq!(parse_size_str("1k"), Ok(1000));
        assert_eq!(parse_size_str("100"), Ok(100));
        assert!(parse_size_str("lots").is_err());
        assert!(parse_size_str("").is_err());
        assert!(parse_size_str("99999999999T").is_err());
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("+3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("-0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("100µs"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(
            parse_duration("1.000000001s"),
            Ok(Duration::from_nanos(1_000_000_001))
        );
        for bad in [
            "",
            "5",
            "s",
            "1x",
            "-1s",
            "1..5s",
            "abc",
            "9999999999999999999999999h",
            "1s2",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }
}
