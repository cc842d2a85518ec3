#![no_main]
//! The bulk import's readers of hostile containers: the first byte picks what the rest is.
//!
//! - 0: a zip (`archive::walk_bytes`), every entry opened as a worker would: the walk never
//!   panics, each entry it gives opens to at most `MAX_ENTRY_BYTES`, names print without
//!   control characters, every display path starts with the archive's name, and positions
//!   never pass the archive's length nor go backwards;
//! - 1: a gzip file (`archive::gunzip`): at most `MAX_ENTRY_BYTES` or an error;
//! - 2: a Strava `activities.csv` (`strava::parse_csv`): every row with a file is found again
//!   by its file name, its RPE is within `ranges::RPE`, and its notes within the notes limit;
//! - 3: the same CSV as the header of a Strava export zip with one entry, through
//!   `strava::parse_csv` and the activities-folder rule.

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use strideguard_core::import::archive::{self, Entry, MAX_ENTRY_BYTES, Problem, Visitor};
use strideguard_core::import::strava;
use strideguard_core::ranges;

struct Check {
    len: u64,
    last: u64,
    entries: usize,
}

impl Check {
    fn position(&mut self, p: u64) {
        assert!(
            p <= self.len,
            "position {p} past the archive's {} bytes",
            self.len
        );
        assert!(
            p >= self.last,
            "position went back from {} to {p}",
            self.last
        );
        self.last = p;
    }
}

impl Visitor for Check {
    fn entry(&mut self, e: Entry) -> ControlFlow<()> {
        self.position(e.position);
        self.entries += 1;
        assert!(e.display.starts_with("fuzz.zip!"), "{}", e.display);
        assert!(!e.display.chars().any(char::is_control), "{:?}", e.display);
        if let Ok(bytes) = e.payload.open(e.gzip) {
            assert!(bytes.len() as u64 <= MAX_ENTRY_BYTES);
        }
        ControlFlow::Continue(())
    }

    fn problem(&mut self, p: Problem) -> ControlFlow<()> {
        self.position(p.position);
        assert!(p.display.starts_with("fuzz.zip"), "{}", p.display);
        assert!(!p.display.chars().any(char::is_control), "{:?}", p.display);
        assert!(!p.error.to_string().is_empty());
        ControlFlow::Continue(())
    }
}

fn check_csv(data: &[u8]) {
    if let Ok(index) = strava::parse_csv(data) {
        for row in index.rows() {
            let found = index
                .get(&row.filename)
                .expect("a row is found by its file");
            // A file named twice keeps its first row.
            assert!(index.rows().iter().any(|r| std::ptr::eq(r, found)));
            if let Some(rpe) = row.rpe {
                assert!(ranges::RPE.check(rpe).is_ok(), "{rpe}");
            }
            if let Some(notes) = row.notes() {
                assert!(notes.chars().count() <= ranges::NOTES_MAX_CHARS);
            }
            let _ = row.sport();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let mut check = Check {
                len: rest.len() as u64,
                last: 0,
                entries: 0,
            };
            let _ = archive::walk_bytes(rest, "fuzz.zip", &mut check);
        }
        1 => {
            if let Ok(bytes) = archive::gunzip(rest) {
                assert!(bytes.len() as u64 <= MAX_ENTRY_BYTES);
            }
        }
        2 => check_csv(rest),
        _ => {
            check_csv(rest);
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = strava::in_activities_folder(text);
                let _ = archive::Kind::of_name(text);
                let _ = archive::printable(text);
            }
        }
    }
});
