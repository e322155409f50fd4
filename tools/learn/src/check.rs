//! `check`: build one chapter and run its stages in order, stopping at the first that fails.
//!
//! Only what the stages need is built: the chapter's crate (and the chapters it uses), its
//! test targets, and for end-to-end stages its binary and that one test file of
//! `baleia-tests`. Never the whole workspace, never the capstone unless it is the chapter.

use crate::region::ExerciseId;
use crate::stages::{self, Chapter, Stage};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// What one stage's tests did.
pub struct Outcome {
    pub passed: bool,
    /// How many tests ran (a stage whose filters match nothing is a mistake, not a pass).
    pub ran: usize,
    /// The failing tests' own output (their panic messages), or cargo's if it failed first.
    pub report: String,
}

/// `check 03` (every stage of chapter 03) or `check 03.2` (that stage only).
pub fn check(root: &Path, what: &str) -> Result<bool> {
    let started = Instant::now();
    let (key, only) = match what.split_once('.') {
        Some(_) => {
            let id = ExerciseId::parse(what)?;
            (id.chapter.clone(), Some(id.to_string()))
        }
        None => (what.to_string(), None),
    };
    let chapter = stages::load(root, &key)?;
    let selected: Vec<&Stage> = chapter
        .stages
        .iter()
        .filter(|s| only.as_deref().is_none_or(|id| s.id == id))
        .collect();
    if selected.is_empty() {
        bail!(
            "chapter {key} has no stage {what} (see {}/stages.toml)",
            chapter.dir.display()
        );
    }
    // The stages this machine can run, in order, up to the first that needs what it lacks.
    let mut blocked = None;
    let mut runnable = Vec::new();
    for stage in selected {
        match ensure_machine(stage) {
            Ok(()) => runnable.push(stage),
            Err(why) => {
                blocked = Some(why);
                break;
            }
        }
    }
    let selected = runnable;
    println!("checking {} ({})", what, chapter.package);
    if let Err(output) = build(root, &chapter, &selected, &[]) {
        println!("\n✗ chapter {key} does not compile:\n");
        println!("{}", errors_only(&output));
        return Ok(false);
    }
    for stage in selected {
        let outcome = run_stage(root, &chapter, stage, &[])?;
        let title = crate::workspace::title_of(root, &stage.exercise()?).unwrap_or_default();
        if outcome.passed {
            let tests = if outcome.ran == 1 { "test" } else { "tests" };
            println!("✓ stage {} — {title} ({} {tests})", stage.id, outcome.ran);
            continue;
        }
        println!("\n✗ stage {} — {title}\n", stage.id);
        println!("expected: {}\n", stage.expect.trim());
        println!("what happened:\n{}\n", indent(&outcome.report));
        if let Some(todo) = reached_todo(&outcome.report) {
            println!("(the code reached the todo!() of exercise {todo}: it is not written yet)\n");
        }
        println!("hint: {}\n", stage.hint.trim());
        println!(
            "stuck? `scripts/learn solution {}` shows the reference.",
            stage.id
        );
        println!("({:.1} s)", started.elapsed().as_secs_f64());
        return Ok(false);
    }
    if let Some(why) = blocked {
        println!("\n{why:#}");
        println!("({:.1} s)", started.elapsed().as_secs_f64());
        return Ok(false);
    }
    println!("all passed ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(true)
}

/// Stop early, saying why, when the machine cannot run a stage: root, Debian packages.
fn ensure_machine(stage: &Stage) -> Result<()> {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if stage.needs_root() && !root {
        bail!(
            "stage {} needs root (its tests create namespaces, mounts or cgroups): run \
             `sudo scripts/check {}`, ideally in a disposable VM (scripts/vm)",
            stage.id,
            stage.id
        );
    }
    for package in stage.packages() {
        let installed = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
        if installed {
            continue;
        }
        if !root {
            bail!(
                "stage {} needs the Debian package {package}: `sudo apt-get install {package}`",
                stage.id
            );
        }
        println!(
            "stage {} needs the Debian package {package}: installing it",
            stage.id
        );
        let status = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && apt-get install -y -qq --no-install-recommends \"$0\"",
                package,
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("run apt-get")?;
        if !status.success() {
            bail!("apt-get install {package} failed");
        }
    }
    Ok(())
}

fn cargo(root: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Backtraces would bury the one line that matters: where the test or the todo!() failed.
    cmd.current_dir(root)
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Compile everything the stages run, quietly; on failure, cargo's output.
pub fn build(
    root: &Path,
    chapter: &Chapter,
    stages: &[&Stage],
    env: &[(String, String)],
) -> std::result::Result<(), String> {
    // package → its test targets.
    let mut targets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut e2e: BTreeSet<String> = BTreeSet::new();
    for stage in stages {
        let own = targets
            .entry(stage.package(chapter).to_string())
            .or_default();
        if !stage.lib.is_empty() {
            own.insert("--lib".into());
        }
        if !stage.bin.is_empty() {
            own.insert("--bins".into());
        }
        let chapters = targets.entry(chapter.package.clone()).or_default();
        for name in stage.tests.keys() {
            chapters.insert(format!("--test={name}"));
        }
        e2e.extend(stage.e2e.keys().cloned());
    }
    let mut steps: Vec<Vec<String>> = Vec::new();
    for (package, targets) in targets.into_iter().filter(|(_, t)| !t.is_empty()) {
        let mut args = vec!["test", "--no-run", "-q", "-p", &package]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(targets);
        steps.push(args);
    }
    if !e2e.is_empty() {
        steps.push(
            ["build", "-q", "-p", &chapter.package, "--bins"]
                .map(String::from)
                .to_vec(),
        );
        let mut args: Vec<String> = ["test", "--no-run", "-q", "-p", "baleia-tests"]
            .map(String::from)
            .to_vec();
        args.extend(e2e.iter().map(|t| format!("--test={t}")));
        steps.push(args);
    }
    for args in steps {
        let output = cargo(root, env)
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
    }
    Ok(())
}

/// Run one stage's tests (already built), with `env` added (the proof sets the blank).
pub fn run_stage(
    root: &Path,
    chapter: &Chapter,
    stage: &Stage,
    env: &[(String, String)],
) -> Result<Outcome> {
    let mut runs: Vec<(Vec<String>, &Vec<String>)> = Vec::new();
    let own = |target: String| vec!["-p".to_string(), chapter.package.clone(), target];
    let unit = |target: &str| vec!["-p".into(), stage.package(chapter).into(), target.into()];
    if !stage.lib.is_empty() {
        runs.push((unit("--lib"), &stage.lib));
    }
    if !stage.bin.is_empty() {
        runs.push((unit("--bins"), &stage.bin));
    }
    for (name, filters) in &stage.tests {
        runs.push((own(format!("--test={name}")), filters));
    }
    for (name, filters) in &stage.e2e {
        let args = vec!["-p".into(), "baleia-tests".into(), format!("--test={name}")];
        runs.push((args, filters));
    }
    let mut total = Outcome {
        passed: true,
        ran: 0,
        report: String::new(),
    };
    for (args, filters) in runs {
        let output = cargo(root, env)
            .args(["test", "-q"])
            .args(&args)
            .arg("--")
            .args(filters)
            .output()
            .context("run cargo test")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let (passed, failed) = count(&stdout);
        total.ran += passed + failed;
        if !output.status.success() {
            total.passed = false;
            total.report = match failures(&stdout) {
                Some(f) => f,
                None => format!("{stdout}{}", errors_only(&stderr)),
            };
            break;
        }
    }
    if total.passed && total.ran == 0 {
        bail!(
            "stage {} matches no test: a filter in {}/stages.toml is misspelt",
            stage.id,
            chapter.dir.display()
        );
    }
    Ok(total)
}

/// Passed and failed counts summed over libtest's `test result:` lines.
fn count(stdout: &str) -> (usize, usize) {
    let mut sums = (0, 0);
    for line in stdout.lines().filter(|l| l.starts_with("test result:")) {
        let number_before = |word: &str| {
            line.split(';')
                .find(|part| part.trim_end().ends_with(word))
                .and_then(|part| part.split_whitespace().rev().nth(1)?.parse::<usize>().ok())
                .unwrap_or(0)
        };
        sums.0 += number_before("passed");
        sums.1 += number_before("failed");
    }
    sums
}

/// libtest's `failures:` section, shortened: the first failing test's output in full (at most
/// 40 lines), then only the names of the others, which usually fail the same way.
fn failures(stdout: &str) -> Option<String> {
    let start = stdout.find("\nfailures:\n\n")? + "\nfailures:\n\n".len();
    let rest = &stdout[start..];
    let end = rest.find("\nfailures:\n").unwrap_or(rest.len());
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in rest[..end].lines() {
        if line.contains("RUST_BACKTRACE=1") {
            continue;
        }
        match line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            Some(name) => sections.push((name.to_string(), Vec::new())),
            None => match sections.last_mut() {
                Some((_, lines)) => lines.push(line),
                None => continue,
            },
        }
    }
    let (first, lines) = sections.first()?;
    let lines: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    let mut text = format!("test {first} failed:\n");
    text.push_str(
        &lines
            .iter()
            .take(40)
            .copied()
            .collect::<Vec<_>>()
            .join("\n"),
    );
    if lines.len() > 40 {
        text.push_str(&format!("\n… ({} more lines)", lines.len() - 40));
    }
    let others: Vec<&str> = sections[1..].iter().map(|(n, _)| n.as_str()).collect();
    if !others.is_empty() {
        text = text.trim_end().to_string();
        text.push_str(&format!("\nalso failing: {}", others.join(", ")));
    }
    Some(text.trim_end().to_string())
}

/// Compiler output without the warnings (a learner edition has many unused names).
fn errors_only(stderr: &str) -> String {
    let mut out = Vec::new();
    let mut keep = false;
    for line in stderr.lines() {
        if line.starts_with("warning") {
            keep = false;
        } else if line.starts_with("error") {
            keep = true;
        }
        if keep {
            out.push(line);
        }
    }
    if out.is_empty() {
        stderr.trim_end().to_string()
    } else {
        out.join("\n")
    }
}

/// The exercise whose `todo!()` a panic message names, if any.
pub fn reached_todo(report: &str) -> Option<String> {
    let at =
        report.find("not yet implemented: exercise ")? + "not yet implemented: exercise ".len();
    Some(report[at..].split(':').next()?.to_string())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_over_test_binaries() {
        let out = "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out; finished in 0.01s\n\
                   test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(count(out), (4, 2));
    }

    #[test]
    fn the_failures_section_is_what_the_learner_sees() {
        let out = "running 2 tests\n.F\nfailures:\n\n---- a::b stdout ----\npanicked at x.rs:1: boom\n\n\nfailures:\n    a::b\n\ntest result: FAILED.";
        assert_eq!(
            failures(out).unwrap(),
            "test a::b failed:\npanicked at x.rs:1: boom"
        );
        let two = "\nfailures:\n\n---- a stdout ----\n\nboom\nnote: run with `RUST_BACKTRACE=1` x\n\n---- b stdout ----\nboom\n\nfailures:\n    a\n    b\n";
        assert_eq!(
            failures(two).unwrap(),
            "test a failed:\nboom\nalso failing: b"
        );
        assert_eq!(
            reached_todo(
                "not yet implemented: exercise 03.2: pivot_root (scripts/learn hint 03.2)"
            ),
            Some("03.2".into())
        );
    }
}
