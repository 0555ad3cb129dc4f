//! The fuzz seed corpora as a regression test on stable: every file of every `fuzz/corpus/<target>/`
//! goes through the same library function its cargo-fuzz target calls (`dock::fuzz_entry`). A crash the
//! fuzzer found is kept by adding its input file to the corpus (and a unit test beside the parser).

use std::path::Path;

use super::TARGETS;

fn corpus_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus"))
}

#[test]
fn every_corpus_folder_has_a_target() {
    for entry in std::fs::read_dir(corpus_root()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/corpus/{name} has no entry in dock::fuzz_entry::TARGETS"
        );
    }
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is in dock::fuzz_entry::TARGETS but not a [[bin]] of fuzz/Cargo.toml"
        );
    }
}

#[test]
fn seed_corpora_pass() {
    for (name, run) in TARGETS {
        let dir = corpus_root().join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target needs seeds)", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no seed", dir.display());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            // A panic here names the input; rerun it with `cargo +nightly fuzz run <target> <file>`.
            eprintln!("{name}: {}", f.display());
            run(&data);
        }
    }
}
