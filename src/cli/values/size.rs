//! `--log-max-size SIZE`: a byte count as Docker's json-file `max-size` takes it (`docker run
//! --log-opt max-size=10m`), which goes through go-units' `RAMInBytes` (docker/go-units `size.go`):
//! binary multiples, unit letters in any case, an optional `b` or `ib` after the letter.
//!
//! Accepted, as go-units: `1048576`, `512b`, `10k` `10K` `10kb` `10KB` `10kib` `10KiB`, the same with
//! `m`, `g`, `t`, `p` (KiB, MiB, GiB, TiB, PiB), and decimals (`1.5M` = 1572864), truncated to whole
//! bytes as Go's `int64(float)` does. Stricter than go-units, as dock's other numbers: no blank (go-units
//! takes one before the unit), no sign, no exponent, no `ib` without a unit letter (older go-units took
//! `32ib` as 32 bytes), at most 9 decimal places (go-units rounds through a float64; dock is exact).
//! 0 is refused, as json-file refuses it ("max-size must be a positive number").
//!
//! Registers nothing.

/// Most decimal places taken: enough for any byte at any unit up to GiB, and exact in u128.
const MAX_DECIMALS: usize = 9;

const HINT: &str = "expected a size like 1048576, 512k, 10M or 1.5G";

/// Parses `--log-max-size`: bytes, or a number with a unit (module header). Returns bytes, ≥ 1.
///
/// # Errors
/// Empty, malformed, unknown unit, more than 9 decimal places, 0 (also after truncation: `0.1`),
/// or more than `u64::MAX` bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty size".into());
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = unit_shift(unit)?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(frac)) {
        return Err(format!("'{s}': {HINT}"));
    }
    if frac.len() > MAX_DECIMALS {
        return Err(format!("'{s}': at most {MAX_DECIMALS} decimal places"));
    }
    let too_large = || format!("'{s}': more than {} bytes", u64::MAX);
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let bytes = whole.checked_mul(1 << shift).ok_or_else(too_large)?;
    // The fraction times the unit, truncated: frac < 10^9 and the unit ≤ 2^50, so u128 is exact.
    let frac_bytes = match frac.parse::<u128>() {
        Ok(f) => (f << shift) / 10u128.pow(u32::try_from(frac.len()).unwrap_or(u32::MAX)),
        Err(_) => 0,
    };
    let bytes = u64::try_from(frac_bytes)
        .ok()
        .and_then(|f| bytes.checked_add(f))
        .ok_or_else(too_large)?;
    if bytes == 0 {
        return Err("size must be at least 1 byte".into());
    }
    Ok(bytes)
}

/// The power of two a unit stands for: none or `b` 0, `k` 10, `m` 20, `g` 30, `t` 40, `p` 50, each
/// optionally followed by `b` or `ib`, in any case.
fn unit_shift(unit: &str) -> Result<u32, String> {
    let lower = unit.to_ascii_lowercase();
    if lower.is_empty() || lower == "b" {
        return Ok(0);
    }
    let mut chars = lower.chars();
    let shift = match chars.next() {
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some('p') => 50,
        _ => return Err(format!("unknown unit '{unit}' (use k, M, G, T or P)")),
    };
    match chars.as_str() {
        "" | "b" | "ib" => Ok(shift),
        _ => Err(format!("unknown unit '{unit}' (use k, M, G, T or P)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_sizes() {
        const K: u64 = 1024;
        let table: &[(&str, u64)] = &[
            ("1", 1),
            ("1048576", 1 << 20),
            ("007", 7),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * K),
            ("32K", 32 * K),
            ("32kb", 32 * K),
            ("32Kb", 32 * K),
            ("32KB", 32 * K),
            ("32Kib", 32 * K),
            ("32KIB", 32 * K),
            ("32KiB", 32 * K),
            ("10m", 10 << 20),
            ("10M", 10 << 20),
            ("10MB", 10 << 20),
            ("10MiB", 10 << 20),
            ("2g", 2 << 30),
            ("2G", 2 << 30),
            ("2GiB", 2 << 30),
            ("32Tb", 32 << 40),
            ("32Pb", 32 << 50),
            ("32PB", 32 << 50),
            ("32P", 32 << 50),
            // Decimals are truncated to whole bytes, as go-units' int64(float).
            ("1.5M", 1_572_864),
            ("1.5k", 1536),
            ("0.5k", 512),
            ("0.001k", 1),
            ("32.3", 32),
            ("1.999b", 1),
            ("0.3MB", 314_572),
            ("0.000000001P", 1_125_899),
            ("1.000000000", 1),
            ("18446744073709551615", u64::MAX),
            ("16383P", 16383 << 50),
            ("15.999999999P", 18_014_398_508_356_084),
            ("16383.999999999P", 18_446_744_073_708_425_716),
        ];
        for &(s, want) in table {
            assert_eq!(parse_size(s), Ok(want), "{s:?}");
        }
    }

    #[test]
    fn refused_sizes() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("0", "at least 1 byte"),
            ("0k", "at least 1 byte"),
            ("0.1", "at least 1 byte"),
            ("0.0000001k", "at least 1 byte"),
            ("k", "expected a size"),
            ("M", "expected a size"),
            (".5k", "expected a size"),
            ("5.k", "expected a size"),
            ("1.2.3k", "expected a size"),
            ("1..2", "expected a size"),
            ("-1", "unknown unit"),
            ("+1", "unknown unit"),
            (" 1", "unknown unit"),
            ("1 ", "unknown unit"),
            ("10 MB", "unknown unit"),
            ("1e3", "unknown unit"),
            ("0x10", "unknown unit"),
            ("32ib", "unknown unit"),
            ("32i", "unknown unit"),
            ("32bm", "unknown unit"),
            ("32kbb", "unknown unit"),
            ("32kibb", "unknown unit"),
            ("32ki", "unknown unit"),
            ("32x", "unknown unit"),
            ("32E", "unknown unit"),
            ("10µ", "unknown unit"),
            ("1.0000000001k", "decimal places"),
            ("18446744073709551616", "more than"),
            ("99999999999999999999999", "more than"),
            ("16384P", "more than"),
            ("18014398509481984k", "more than"),
        ];
        for &(s, want) in table {
            let err = parse_size(s).expect_err(s);
            assert!(err.contains(want), "{s:?}: {err:?} lacks {want:?}");
        }
    }
}
