//! `prove`: the proof, for CI, that every stage grades something.
//!
//! For every exercise it shows three things:
//! 1. the reference passes the exercise's stage, even with every later exercise of the chapter
//!    still blank (so a learner can pass the stages in order);
//! 2. the learner edition (every region `todo!()`) compiles;
//! 3. the stage's tests fail when that exercise alone is blank.
//!
//! All of it runs in a copy of the repository under `target/learn-prove/` with a build
//! directory of its own, kept between runs so only the chapters are recompiled. (1) and (3)
//! share one build: each region gets the reference code behind a `todo!()` that fires only when
//! `BALEIA_LEARN_BLANK` names its exercise ([`Blank::Switchable`]). (2) then rewrites the
//! copy as the learner edition and compiles it: blanking changes bodies, never signatures, so
//! if every chapter compiles blank at once, each one does blank alone.
//!
//! A stage that passes with its exercise blank is a defect: its tests do not reach the code.

use crate::check::{build, reached_todo, run_stage};
use crate::region::{self, Blank, Region};
use crate::stages;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub fn prove(root: &Path, chapters: &[String]) -> Result<bool> {
    let started = Instant::now();
    let work = root.join("target/learn-prove");
    let tree = work.join("tree");
    let env = vec![(
        "CARGO_TARGET_DIR".to_string(),
        work.join("target").to_string_lossy().into_owned(),
    )];
    copy_tree(root, &tree)?;
    let all_keys = stages::chapter_keys(&tree)?;
    let keys: Vec<String> = if chapters.is_empty() {
        all_keys
    } else {
        chapters.to_vec()
    };
    let regions = region::scan(&tree)?;
    // The reference text of every file with regions, as copied (the checkout may change while
    // this runs).
    let mut originals: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for r in &regions {
        if !originals.contains_key(&r.file) {
            originals.insert(r.file.clone(), region::read_lines(&tree.join(&r.file))?);
        }
    }
    let mut defects = Vec::new();

    // Every exercise has a stage and every stage an exercise.
    for key in &keys {
        let chapter = stages::load(&tree, key)?;
        let staged: BTreeSet<String> = chapter.stages.iter().map(|s| s.id.clone()).collect();
        let marked: BTreeSet<String> = regions
            .iter()
            .filter(|r| &r.id.chapter == key)
            .map(|r| r.id.to_string())
            .collect();
        for id in marked.difference(&staged) {
            defects.push(format!("exercise {id} has no stage in stages.toml"));
        }
        for id in staged.difference(&marked) {
            defects.push(format!("stage {id} has no exercise region in the source"));
        }
    }

    // (1) and (3): one switchable build per chapter.
    rewrite(&originals, &tree, &regions, Blank::Switchable)?;
    let mut results = Vec::new();
    for key in &keys {
        let chapter = stages::load(&tree, key)?;
        let chapter_started = Instant::now();
        let all: Vec<_> = chapter.stages.iter().collect();
        if let Err(output) = build(&tree, &chapter, &all, &env) {
            defects.push(format!(
                "chapter {key}: the reference does not build:\n{output}"
            ));
            continue;
        }
        for (index, stage) in chapter.stages.iter().enumerate() {
            // The learner writes the exercises in order: a stage must pass while every later
            // exercise of its chapter is still blank.
            let later: Vec<&str> = chapter.stages[index + 1..]
                .iter()
                .map(|s| s.id.as_str())
                .collect();
            let mut in_order_env = env.clone();
            in_order_env.push(("BALEIA_LEARN_BLANK".into(), later.join(",")));
            let in_order = run_stage(&tree, &chapter, stage, &in_order_env)?;
            let mut blank_env = env.clone();
            blank_env.push(("BALEIA_LEARN_BLANK".into(), stage.id.clone()));
            let blank = run_stage(&tree, &chapter, stage, &blank_env)?;
            let own_todo = reached_todo(&blank.report).is_some_and(|id| id == stage.id);
            println!(
                "{:<12} reference {} ({} tests, later exercises blank), own blank {}{}",
                stage.id,
                if in_order.passed { "passes" } else { "FAILS" },
                in_order.ran,
                if blank.passed { "PASSES" } else { "fails" },
                if own_todo { " at its todo!()" } else { "" }
            );
            if !in_order.passed {
                let alone = run_stage(&tree, &chapter, stage, &env)?;
                defects.push(match alone.passed {
                    true => format!(
                        "stage {}: passes on the reference only once a later exercise ({}) is \
                         written: reorder the stages or their tests",
                        stage.id,
                        reached_todo(&in_order.report).unwrap_or_else(|| "?".into())
                    ),
                    false => format!(
                        "stage {}: the reference fails its own stage:\n{}",
                        stage.id, alone.report
                    ),
                });
            }
            if blank.passed {
                defects.push(format!(
                    "stage {}: passes with exercise {} blank: its tests never reach the code",
                    stage.id, stage.id
                ));
            }
        }
        results.push((key.clone(), chapter_started.elapsed().as_secs_f64()));
    }

    // (2): the learner edition compiles.
    rewrite(&originals, &tree, &regions, Blank::Todo)?;
    let compile_started = Instant::now();
    // `cargo check` of every target: the compiler's verdict without code generation.
    let mut args: Vec<String> = vec!["check".into(), "-q".into(), "--all-targets".into()];
    for key in &keys {
        args.push("-p".into());
        args.push(stages::load(&tree, key)?.package);
    }
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&tree)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(&args)
        .output()
        .context("run cargo")?;
    if output.status.success() {
        println!(
            "learner edition of {} compiles ({:.0} s)",
            keys.join(", "),
            compile_started.elapsed().as_secs_f64()
        );
    } else {
        defects.push(format!(
            "the learner edition does not compile:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }

    for (key, secs) in results {
        println!("chapter {key}: {secs:.0} s");
    }
    println!("prove took {:.0} s", started.elapsed().as_secs_f64());
    if defects.is_empty() {
        println!("every stage passes on the reference and fails on its blank");
        return Ok(true);
    }
    for defect in &defects {
        println!("DEFECT: {defect}");
    }
    Ok(false)
}

/// Copy the repository's files (tracked and new, as `git ls-files` lists them) into `tree`,
/// writing only files whose content changed so that cargo rebuilds only what changed.
fn copy_tree(root: &Path, tree: &Path) -> Result<()> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .context("run git ls-files")?;
    if !output.status.success() {
        bail!("git ls-files failed in {}", root.display());
    }
    for name in output.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = PathBuf::from(String::from_utf8_lossy(name).into_owned());
        let from = root.join(&name);
        let Ok(bytes) = std::fs::read(&from) else {
            continue; // deleted in the checkout, not yet in git
        };
        write_if_changed(&tree.join(&name), &bytes)?;
    }
    Ok(())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

/// Rewrite every file of the copy that has regions, from its reference text, blanked `how`.
fn rewrite(
    originals: &BTreeMap<PathBuf, Vec<String>>,
    tree: &Path,
    regions: &[Region],
    how: Blank,
) -> Result<()> {
    let mut by_file: BTreeMap<&Path, Vec<&Region>> = BTreeMap::new();
    for r in regions {
        by_file.entry(&r.file).or_default().push(r);
    }
    for (file, regions) in by_file {
        let text = region::blank(&originals[file], &regions, how).join("\n") + "\n";
        write_if_changed(&tree.join(file), text.as_bytes())?;
    }
    Ok(())
}
