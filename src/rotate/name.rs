//! Archive and temporary file names, and retention: pure functions over names (bytes, since file names
//! need not be UTF-8). Archives are `<base>_<YYYYMMDDhhmmss>[-N].gz` (UTC); `N` ≥ 1 tells apart
//! archives made within one second. Ordering is by the parsed `(stamp, N)`, never by the text: `-1.gz`
//! sorts before `.gz` as bytes, and `-10` before `-2`.
//!
//! Registers nothing.

/// Where an archive sits in age order: `stamp` is `YYYYMMDDhhmmss` read as a number (so numeric order
/// is time order), `seq` the `-N` suffix (0: none). Derived `Ord` compares `stamp`, then `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArchiveKey {
    /// `YYYYMMDDhhmmss` as a 14-digit number.
    pub stamp: u64,
    /// The `-N` suffix; 0 when there is none.
    pub seq: u32,
}

/// The last second a 14-digit stamp can spell: 9999-12-31 23:59:59 UTC.
const MAX_STAMP: u64 = 99_991_231_235_959;

/// Days since 1970-01-01 → (year, month 1–12, day 1–31) in the proleptic Gregorian calendar.
/// Howard Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms"): shift the year
/// to start in March so the leap day is the last of the year, then work in 400-year eras.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
                                  // In [1, 31] and [1, 12]: the casts cannot truncate or lose a sign.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the Unix epoch → `YYYYMMDDhhmmss` (UTC) as a number; past year 9999 it stays at
/// [`MAX_STAMP`] so the name keeps 14 digits.
pub fn stamp(unix_secs: u64) -> u64 {
    // u64::MAX / 86 400 is far below i64::MAX.
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(i64::MAX);
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    if y > 9999 {
        return MAX_STAMP;
    }
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    // From 1970 (the epoch) to 9999.
    let y = u64::try_from(y).unwrap_or(0);
    (((((y * 100 + u64::from(m)) * 100 + u64::from(d)) * 100 + hh) * 100 + mm) * 100) + ss
}

/// The key for a new archive stamped `stamp`, given the newest existing one: `(stamp, 0)` if that is
/// newer, else one past the newest (`-N+1`, keeping its stamp when the clock went backwards), so a new
/// archive always sorts last.
pub fn next_key(newest: Option<ArchiveKey>, stamp: u64) -> ArchiveKey {
    match newest {
        Some(n) if n.stamp >= stamp => ArchiveKey {
            stamp: n.stamp,
            seq: n.seq.saturating_add(1),
        },
        _ => ArchiveKey { stamp, seq: 0 },
    }
}

/// `<base>_<YYYYMMDDhhmmss>[-N].gz`.
pub fn archive_name(base: &[u8], key: ArchiveKey) -> Vec<u8> {
    let mut v = base.to_vec();
    v.extend_from_slice(format!("_{:014}", key.stamp).as_bytes());
    if key.seq > 0 {
        v.extend_from_slice(format!("-{}", key.seq).as_bytes());
    }
    v.extend_from_slice(b".gz");
    v
}

/// A decimal number without sign or leading zeros (`0` itself is allowed).
fn parse_canonical_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) || (s[0] == b'0' && s.len() > 1) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The key of `name` if it is exactly an archive dock makes for `base` (`<base>_<14 digits>.gz` or
/// `<base>_<14 digits>-<N>.gz`, `N` ≥ 1 without leading zeros); `None` for anything else, such as
/// `app.log.1.gz`, `app.log2_x.gz` or `app.log_2024.gz`.
pub fn parse_archive_name(base: &[u8], name: &[u8]) -> Option<ArchiveKey> {
    let rest = name.strip_prefix(base)?.strip_prefix(b"_")?;
    let rest = rest.strip_suffix(b".gz")?;
    if rest.len() < 14 || !rest[..14].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let stamp = std::str::from_utf8(&rest[..14]).ok()?.parse().ok()?;
    let seq = match &rest[14..] {
        [] => 0,
        [b'-', n @ ..] => match parse_canonical_u64(n)? {
            0 => return None,
            n => u32::try_from(n).ok()?,
        },
        _ => return None,
    };
    Some(ArchiveKey { stamp, seq })
}

/// Retention: of `names` (a directory listing), the archives of `base` to delete so that only the
/// newest `keep` remain, oldest first. Names that are not dock's archives of `base` are never returned.
pub fn to_delete<'a, I>(base: &[u8], names: I, keep: usize) -> Vec<&'a [u8]>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut ours: Vec<(ArchiveKey, &'a [u8])> = names
        .into_iter()
        .filter_map(|n| parse_archive_name(base, n).map(|k| (k, n)))
        .collect();
    ours.sort();
    let excess = ours.len().saturating_sub(keep);
    ours.into_iter().take(excess).map(|(_, n)| n).collect()
}

/// The newest archive of `base` among `names`.
pub fn newest<'a, I>(base: &[u8], names: I) -> Option<ArchiveKey>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    names
        .into_iter()
        .filter_map(|n| parse_archive_name(base, n))
        .max()
}

/// The name a rotated-out file has until it is archived: `.<base>.rotated-<unix secs>-<counter>`.
/// Hidden and never matching the archive pattern; the numbers order leftovers after a crash.
pub fn temp_name(base: &[u8], unix_secs: u64, counter: u64) -> Vec<u8> {
    let mut v = b".".to_vec();
    v.extend_from_slice(base);
    v.extend_from_slice(format!(".rotated-{unix_secs}-{counter}").as_bytes());
    v
}

/// `(unix secs, counter)` of a [`temp_name`] of `base`.
pub fn parse_temp_name(base: &[u8], name: &[u8]) -> Option<(u64, u64)> {
    let rest = name
        .strip_prefix(b".")?
        .strip_prefix(base)?
        .strip_prefix(b".rotated-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    Some((
        parse_canonical_u64(&rest[..dash])?,
        parse_canonical_u64(&rest[dash + 1..])?,
    ))
}

/// The name an archive is written under until it is complete and synced: `.<archive name>.part`.
pub fn part_name(base: &[u8], key: ArchiveKey) -> Vec<u8> {
    let mut v = b".".to_vec();
    v.extend_from_slice(&archive_name(base, key));
    v.extend_from_slice(b".part");
    v
}

/// Whether `name` is a [`part_name`] of `base` (left over by a crash: safe to delete).
pub fn is_part_name(base: &[u8], name: &[u8]) -> bool {
    name.strip_prefix(b".")
        .and_then(|n| n.strip_suffix(b".part"))
        .is_some_and(|n| parse_archive_name(base, n).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29)); // 400-year leap
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1)); // 2100 is not leap: Feb 28 → Mar 1
        assert_eq!(civil_from_days(47_540), (2100, 2, 28)); // (values from `date -u -d ... +%s`)
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn stamps() {
        assert_eq!(stamp(0), 19_700_101_000_000);
        // date -u -d @1709251199 → 2024-02-29 23:59:59
        assert_eq!(stamp(1_709_251_199), 20_240_229_235_959);
        assert_eq!(stamp(1_709_251_200), 20_240_301_000_000);
        assert_eq!(stamp(253_402_300_799), MAX_STAMP);
        assert_eq!(stamp(253_402_300_800), MAX_STAMP);
        assert_eq!(stamp(u64::MAX), MAX_STAMP);
    }

    #[test]
    fn stamps_match_every_day_of_a_naive_calendar() {
        // Walk day by day from 1970 to 2400 with the textbook leap rule.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..157_000i64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn names_round_trip_and_parse_strictly() {
        let k = ArchiveKey {
            stamp: 20_240_102_030_405,
            seq: 0,
        };
        assert_eq!(archive_name(b"app.log", k), b"app.log_20240102030405.gz");
        let k3 = ArchiveKey { seq: 3, ..k };
        assert_eq!(archive_name(b"app.log", k3), b"app.log_20240102030405-3.gz");
        assert_eq!(
            parse_archive_name(b"app.log", b"app.log_20240102030405.gz"),
            Some(k)
        );
        assert_eq!(
            parse_archive_name(b"app.log", b"app.log_20240102030405-3.gz"),
            Some(k3)
        );
        for other in [
            &b"app.log.1.gz"[..],
            b"app.log2_20240102030405.gz",
            b"app.log2_x.gz",
            b"app.log_2024010203040.gz",
            b"app.log_202401020304050.gz",
            b"app.log_20240102030405-0.gz",
            b"app.log_20240102030405-01.gz",
            b"app.log_20240102030405-.gz",
            b"app.log_20240102030405-4294967296.gz",
            b"app.log_20240102030405.gz.part",
            b"app.log_20240102030405",
            b"app.log_2024010203040x.gz",
            b"xapp.log_20240102030405.gz",
            b".app.log_20240102030405.gz.part",
            b"app.log",
        ] {
            assert_eq!(
                parse_archive_name(b"app.log", other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn parsed_order_is_age_order_where_text_order_is_not() {
        let names: Vec<&[u8]> = vec![
            b"a_20240101000000-10.gz",
            b"a_20240101000000.gz",
            b"a_20240101000000-2.gz",
            b"a_20240101000000-1.gz",
            b"a_20231231235959.gz",
        ];
        let del = to_delete(b"a", names.iter().copied(), 2);
        assert_eq!(
            del,
            vec![
                &b"a_20231231235959.gz"[..],
                b"a_20240101000000.gz",
                b"a_20240101000000-1.gz"
            ]
        );
        assert_eq!(
            newest(b"a", names.iter().copied()),
            Some(ArchiveKey {
                stamp: 20_240_101_000_000,
                seq: 10
            })
        );
    }

    #[test]
    fn retention_never_touches_other_files() {
        let names: Vec<&[u8]> = vec![
            b"app.log",
            b"app.log.1.gz",
            b"app.log2_x.gz",
            b"app.log2_20200101000000.gz",
            b".app.log.rotated-1-0",
            b".app.log_20200101000000.gz.part",
            b"app.log_20200101000000.gz",
            b"app.log_20200101000001.gz",
            b"app.log_20200101000002.gz",
        ];
        assert_eq!(
            to_delete(b"app.log", names.iter().copied(), 1),
            vec![
                &b"app.log_20200101000000.gz"[..],
                b"app.log_20200101000001.gz"
            ]
        );
        assert!(to_delete(b"app.log", names.iter().copied(), 3).is_empty());
        assert!(to_delete(b"app.log", names.iter().copied(), 30).is_empty());
        assert!(to_delete(b"nothing", names.iter().copied(), 0).is_empty());
    }

    #[test]
    fn next_keys_always_sort_last() {
        assert_eq!(next_key(None, 5), ArchiveKey { stamp: 5, seq: 0 });
        let n = ArchiveKey { stamp: 5, seq: 0 };
        assert_eq!(next_key(Some(n), 6), ArchiveKey { stamp: 6, seq: 0 });
        assert_eq!(next_key(Some(n), 5), ArchiveKey { stamp: 5, seq: 1 });
        // The clock went backwards: keep the newest stamp, bump the suffix.
        let n = ArchiveKey { stamp: 9, seq: 4 };
        assert_eq!(next_key(Some(n), 5), ArchiveKey { stamp: 9, seq: 5 });
        assert!(next_key(Some(n), 5) > n);
    }

    #[test]
    fn temp_and_part_names() {
        let t = temp_name(b"app.log", 1_700_000_000, 7);
        assert_eq!(t, b".app.log.rotated-1700000000-7");
        assert_eq!(parse_temp_name(b"app.log", &t), Some((1_700_000_000, 7)));
        assert_eq!(parse_temp_name(b"app.lo", &t), None);
        assert_eq!(parse_temp_name(b"app.log", b".app.log.rotated-1-"), None);
        assert_eq!(parse_temp_name(b"app.log", b".app.log.rotated-01-2"), None);
        assert_eq!(parse_archive_name(b"app.log", &t), None);
        let k = ArchiveKey {
            stamp: 20_240_102_030_405,
            seq: 2,
        };
        let p = part_name(b"app.log", k);
        assert_eq!(p, b".app.log_20240102030405-2.gz.part");
        assert!(is_part_name(b"app.log", &p));
        assert!(!is_part_name(b"app.log", b".app.log_x.gz.part"));
        assert_eq!(parse_archive_name(b"app.log", &p), None);
    }
}
