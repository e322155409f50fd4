//! The lessons stay true: `scripts/lessons` runs every ```` ```sh ```` and ```` ```console ````
//! block of README.md, of every chapter's lesson and of the capstone's, as written, with the
//! binaries cargo built, and checks the output the console blocks show (read the script's
//! header for the rules). It is a script, not Rust, so that it also runs where there is no
//! cargo (a VM guest with only bash and busybox, given the built binaries).

use std::path::Path;
use std::process::Command;

#[test]
fn every_lesson_block_runs_and_prints_what_it_shows() {
    harness::require_root();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository");
    let started = std::time::Instant::now();
    let status = Command::new(repo.join("scripts/lessons"))
        .arg("--bin")
        .arg(harness::build_dir())
        .current_dir(repo)
        .status()
        .expect("run scripts/lessons");
    assert!(
        status.success(),
        "scripts/lessons failed after {:.0?}: a lesson's block failed, printed something other \
         than it shows, or left something behind (its FAIL and LEAK lines above say which)",
        started.elapsed()
    );
}
