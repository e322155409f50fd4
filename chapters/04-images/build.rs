//! Compile `hello/hello.rs` into the static program of the built-in `hello-world` image.
//!
//! The program must run in an image that holds nothing else, so it is linked statically
//! (`+crt-static`). That flag cannot go in RUSTFLAGS for the whole build, because proc-macro
//! crates cannot be linked that way; so this script calls `rustc` on the one file, as the test
//! harness does for its probe.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = PathBuf::from("hello/hello.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("hello");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").expect("TARGET");
    let status = Command::new(rustc)
        .args(["--edition", "2021", "--target", &target])
        .args(["-C", "target-feature=+crt-static"])
        .args([
            "-C",
            "opt-level=z",
            "-C",
            "strip=symbols",
            "-C",
            "panic=abort",
        ])
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .status()
        .expect("run rustc for hello/hello.rs");
    assert!(status.success(), "compiling hello/hello.rs failed");
}
