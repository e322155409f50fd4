//! A chapter's graded stages: `stages.toml` next to its `Cargo.toml`.
//!
//! One stage per exercise, in order: the tests that prove the exercise is done, what they
//! expect (said to the learner when they fail), a hint, and what the stage needs from the
//! machine (root, Debian packages). Tests are named by filters, as `cargo test NAME` takes
//! them: a test runs when its full name contains one of the filters.

use crate::region::{check_chapter, ExerciseId};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    stage: Vec<Stage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The exercise this stage grades (`03.2`).
    pub id: String,
    /// `root`, or a Debian package a test runs (`busybox-static`).
    #[serde(default)]
    pub needs: Vec<String>,
    /// The crate whose `lib` and `bin` tests these are, when not the chapter's own (the
    /// capstone's code lives in one crate per role: `baleia-wire`, `baleia-daemon`...).
    #[serde(default)]
    pub package: Option<String>,
    /// Filters for this chapter crate's unit tests (`src/**`).
    #[serde(default)]
    pub lib: Vec<String>,
    /// Filters for the unit tests of this crate's binaries (a crate without a library, such
    /// as the capstone, keeps its unit tests there).
    #[serde(default)]
    pub bin: Vec<String>,
    /// This chapter crate's integration tests: file name in `tests/` → filters.
    #[serde(default)]
    pub tests: BTreeMap<String, Vec<String>>,
    /// The end-to-end tests (`tests/tests/NAME.rs`, package `baleia-tests`): file → filters.
    /// They run the chapter's binary, which `check` builds first.
    #[serde(default)]
    pub e2e: BTreeMap<String, Vec<String>>,
    /// What the tests expect, in one or two sentences.
    pub expect: String,
    /// A nudge, not the answer.
    pub hint: String,
}

impl Stage {
    pub fn exercise(&self) -> Result<ExerciseId> {
        ExerciseId::parse(&self.id)
    }

    /// The package whose unit tests `lib` and `bin` filter.
    pub fn package<'a>(&'a self, chapter: &'a Chapter) -> &'a str {
        self.package.as_deref().unwrap_or(&chapter.package)
    }

    pub fn needs_root(&self) -> bool {
        self.needs.iter().any(|n| n == "root")
    }

    pub fn packages(&self) -> impl Iterator<Item = &str> {
        self.needs
            .iter()
            .map(String::as_str)
            .filter(|n| *n != "root")
    }
}

/// A chapter: its directory, its package name and its stages.
#[derive(Debug)]
pub struct Chapter {
    pub dir: PathBuf,
    pub package: String,
    pub stages: Vec<Stage>,
}

/// The directory of chapter `key` (`03` → `chapters/03-overlayfs`, `capstone` → `capstone`).
pub fn chapter_dir(root: &Path, key: &str) -> Result<PathBuf> {
    check_chapter(key)?;
    if key == "capstone" {
        return Ok(root.join("capstone"));
    }
    let prefix = format!("{key}-");
    for entry in std::fs::read_dir(root.join("chapters")).context("read chapters/")? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&prefix))
        {
            return Ok(path);
        }
    }
    bail!("there is no chapter {key} under chapters/")
}

/// Every chapter key that has a stage file, in course order.
pub fn chapter_keys(root: &Path) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(root.join("chapters")).context("read chapters/")? {
        let path = entry?.path();
        if path.join("stages.toml").exists() {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                keys.push(name[..2].to_string());
            }
        }
    }
    keys.sort();
    if root.join("capstone/stages.toml").exists() {
        keys.push("capstone".to_string());
    }
    Ok(keys)
}

pub fn load(root: &Path, key: &str) -> Result<Chapter> {
    let dir = chapter_dir(root, key)?;
    let path = dir.join("stages.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let file: File = toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    for stage in &file.stage {
        let id = stage
            .exercise()
            .with_context(|| format!("{}", path.display()))?;
        if id.chapter != key {
            bail!("{}: stage {id} is not in chapter {key}", path.display());
        }
        if stage.lib.is_empty()
            && stage.bin.is_empty()
            && stage.tests.is_empty()
            && stage.e2e.is_empty()
        {
            bail!("{}: stage {id} names no test", path.display());
        }
    }
    Ok(Chapter {
        package: package_name(&dir)?,
        dir,
        stages: file.stage,
    })
}

fn package_name(dir: &Path) -> Result<String> {
    #[derive(Deserialize)]
    struct Manifest {
        package: Package,
    }
    #[derive(Deserialize)]
    struct Package {
        name: String,
    }
    let path = dir.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let manifest: Manifest =
        toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    Ok(manifest.package.name)
}
