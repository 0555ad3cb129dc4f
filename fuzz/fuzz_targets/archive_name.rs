//! Archive and temporary file names read back from a directory listing (outside input: anyone can put
//! files there): never panics, and what parses is exactly what dock would write.
#![no_main]
use dock::rotate::name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: length of the base name; the rest, '/'-separated, are directory entries.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (base, listing) = rest.split_at((n as usize).min(rest.len()));
    let names: Vec<&[u8]> = listing.split(|&b| b == b'/').collect();
    for &nm in &names {
        if let Some(k) = name::parse_archive_name(base, nm) {
            assert_eq!(name::archive_name(base, k), nm);
            assert!(name::is_part_name(base, &name::part_name(base, k)));
        }
        if let Some((secs, counter)) = name::parse_temp_name(base, nm) {
            assert_eq!(name::temp_name(base, secs, counter), nm);
        }
        let _ = name::is_part_name(base, nm);
    }
    for keep in [0usize, 1, 2, 5] {
        let del = name::to_delete(base, names.iter().copied(), keep);
        assert!(del.iter().all(|d| name::parse_archive_name(base, d).is_some()));
    }
    if let Some(newest) = name::newest(base, names.iter().copied()) {
        assert!(name::next_key(Some(newest), 0) > newest || newest.seq == u32::MAX);
    }
});
