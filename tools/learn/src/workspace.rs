//! The learner workspace: a git worktree of the course with a chapter's regions blanked.
//!
//! `start` makes it (or, run inside one, blanks one more chapter there) and writes a hint
//! file per exercise under `exercises/`. The workspace remembers the commit it came from in
//! `.learn/reference`, so `solution` and `reset` read the reference with `git show`, whatever
//! happens to the reference checkout afterwards. Code a learner wrote is never lost: `reset`
//! and `solution --apply` save it under `.learn/saved/` first.

use crate::region::{self, Blank, ExerciseId, Region};
use crate::stages;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const REFERENCE: &str = ".learn/reference";

/// The commit a workspace was made from, if `root` is a workspace.
fn reference_commit(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(REFERENCE)).ok()?;
    Some(text.trim().to_string())
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("run git")?;
    if !output.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The reference text of `file`: from the workspace's commit, or the checkout itself.
fn reference_lines(root: &Path, file: &Path) -> Result<Vec<String>> {
    match reference_commit(root) {
        Some(commit) => {
            let spec = format!("{commit}:{}", file.display());
            Ok(git(root, &["show", &spec])?
                .lines()
                .map(str::to_string)
                .collect())
        }
        None => region::read_lines(&root.join(file)),
    }
}

/// The reference's regions of exercise `id` with their bodies.
fn reference_regions(root: &Path, id: &ExerciseId) -> Result<Vec<(Region, Vec<String>)>> {
    let files: Vec<PathBuf> = region::scan(root)?
        .into_iter()
        .filter(|r| &r.id == id)
        .map(|r| r.file)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for file in files {
        let lines = reference_lines(root, &file)?;
        for r in region::parse(&file, &lines.join("\n"))? {
            if &r.id == id {
                let body = r.body(&lines).to_vec();
                out.push((r, body));
            }
        }
    }
    if out.is_empty() {
        bail!("there is no exercise {id} (scripts/learn list shows them)");
    }
    Ok(out)
}

/// The title of exercise `id`, from its first region.
pub fn title_of(root: &Path, id: &ExerciseId) -> Option<String> {
    region::scan(root)
        .ok()?
        .into_iter()
        .find(|r| &r.id == id)
        .map(|r| r.title)
}

/// `start NN [--dir DIR]`.
pub fn start(root: &Path, chapter: &str, dir: Option<PathBuf>, copy_target: bool) -> Result<()> {
    region::check_chapter(chapter)?;
    let workspace = if reference_commit(root).is_some() {
        root.to_path_buf()
    } else {
        let dir = dir.unwrap_or_else(|| root.join("..").join("baleia-learner"));
        if reference_commit(&dir).is_none() {
            make_workspace(root, &dir)?;
            if copy_target && root.join("target/debug").is_dir() {
                println!("copying the build directory (target/debug) into the workspace");
                std::fs::create_dir_all(dir.join("target"))?;
                let status = Command::new("cp")
                    .args(["-a", "--reflink=auto"])
                    .arg(root.join("target/debug"))
                    .arg(dir.join("target"))
                    .status()
                    .context("run cp")?;
                if !status.success() {
                    bail!("cp -a target/debug {}/target failed", dir.display());
                }
            }
        }
        dir
    };
    let regions: Vec<Region> = region::scan(&workspace)?
        .into_iter()
        .filter(|r| r.id.chapter == chapter)
        .collect();
    if regions.is_empty() {
        bail!("chapter {chapter} has no exercises yet");
    }
    // Blank a region only where it still holds the reference: a learner's code stays.
    let mut by_file: std::collections::BTreeMap<PathBuf, Vec<&Region>> = Default::default();
    for r in &regions {
        by_file.entry(r.file.clone()).or_default().push(r);
    }
    let mut blanked = 0;
    for (file, regions) in by_file {
        let path = workspace.join(&file);
        let lines = region::read_lines(&path)?;
        let reference = reference_lines(&workspace, &file)?;
        let reference_regions = region::parse(&file, &reference.join("\n"))?;
        let untouched: Vec<&Region> = regions
            .into_iter()
            .filter(|r| {
                reference_regions
                    .iter()
                    .any(|rr| rr.id == r.id && rr.body(&reference) == r.body(&lines))
            })
            .collect();
        blanked += untouched.len();
        region::write_lines(&path, &region::blank(&lines, &untouched, Blank::Todo))?;
    }
    let ids: std::collections::BTreeSet<&ExerciseId> = regions.iter().map(|r| &r.id).collect();
    std::fs::create_dir_all(workspace.join("exercises"))?;
    for id in &ids {
        let text = hint_text(&workspace, id)?;
        std::fs::write(workspace.join(format!("exercises/{id}.md")), text)?;
    }
    println!(
        "chapter {chapter}: {blanked} region(s) blanked in {}",
        workspace.display()
    );
    for id in &ids {
        let r = regions
            .iter()
            .find(|r| &r.id == *id)
            .expect("an id has a region");
        println!(
            "  {id}  {}  ({}:{})",
            r.title,
            r.file.display(),
            r.begin + 1
        );
    }
    let first = ids.iter().next().expect("at least one exercise");
    println!(
        "\nnext: cd {} && cat exercises/{first}.md && scripts/check {first}",
        workspace.display()
    );
    Ok(())
}

fn make_workspace(root: &Path, dir: &Path) -> Result<()> {
    let dirty = git(
        root,
        &["status", "--porcelain", "--", "chapters", "capstone"],
    )?;
    if !dirty.trim().is_empty() {
        println!("note: uncommitted changes in chapters/ or capstone/ are not in the workspace");
    }
    let commit = git(root, &["rev-parse", "HEAD"])?.trim().to_string();
    let dir_text = dir.to_string_lossy().into_owned();
    git(root, &["worktree", "add", "--detach", &dir_text, &commit])?;
    std::fs::create_dir_all(dir.join(".learn"))?;
    std::fs::write(dir.join(REFERENCE), format!("{commit}\n"))?;
    println!(
        "made a learner workspace at {} (a git worktree of {}; commit your work there)",
        dir.display(),
        &commit[..12]
    );
    Ok(())
}

/// The hint file of one exercise.
pub fn hint_text(root: &Path, id: &ExerciseId) -> Result<String> {
    let regions = reference_regions(root, id)?;
    let chapter = stages::load(root, &id.chapter)?;
    let stage = chapter.stages.iter().find(|s| s.id == id.to_string());
    let (first, _) = &regions[0];
    let mut text = format!("# Exercise {id} — {}\n\n", first.title);
    text.push_str("Write the code between the markers `// exercise ");
    text.push_str(&format!("{id}` and `// end of exercise {id}` in:\n\n"));
    for (r, body) in &regions {
        let function = r
            .function
            .as_deref()
            .map_or(String::new(), |f| format!("`fn {f}`, "));
        text.push_str(&format!(
            "- {function}{}:{} ({} lines in the reference)\n",
            r.file.display(),
            r.begin + 1,
            body.len()
        ));
    }
    text.push_str(&format!(
        "\nRead first: the lesson ({}/README.md) and the doc comments around the function; the \
         code around the markers is complete and tells you what the function must give back.\n",
        chapter
            .dir
            .strip_prefix(root)
            .unwrap_or(&chapter.dir)
            .display()
    ));
    match stage {
        Some(stage) => {
            let needs = if stage.needs.is_empty() {
                String::new()
            } else {
                format!(" (needs: {})", stage.needs.join(", "))
            };
            text.push_str(&format!(
                "\n## The stage\n\n{}\n\nCheck it: `scripts/check {id}`{needs}\n\n## Hint\n\n{}\n",
                stage.expect.trim(),
                stage.hint.trim()
            ));
        }
        None => text.push_str("\n(This exercise has no stage yet.)\n"),
    }
    text.push_str(&format!(
        "\nStuck? `scripts/learn solution {id}` shows the reference; `scripts/learn reset {id}` \
         starts the exercise over (your code is saved in .learn/saved/ first).\n"
    ));
    Ok(text)
}

/// Save what the learner wrote for `id` before it is overwritten.
fn save_learner_code(root: &Path, id: &ExerciseId, regions: &[Region]) -> Result<()> {
    let dir = root.join(".learn/saved");
    std::fs::create_dir_all(&dir)?;
    let mut text = String::new();
    for r in regions {
        let lines = region::read_lines(&root.join(&r.file))?;
        text.push_str(&format!("// {}:{}\n", r.file.display(), r.begin + 1));
        text.push_str(&r.body(&lines).join("\n"));
        text.push('\n');
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Never over an earlier save, even one from the same second.
    let path = (0..)
        .map(|n| dir.join(format!("{id}-{secs}-{n}.rs")))
        .find(|p| !p.exists())
        .expect("a free name");
    std::fs::write(&path, text)?;
    println!("your code for {id} was saved in {}", path.display());
    Ok(())
}

/// Put the reference (or, with `with_reference` false, the `todo!()` line) into exercise
/// `id`'s regions in this workspace.
fn fill(root: &Path, id: &ExerciseId, with_reference: bool) -> Result<()> {
    if reference_commit(root).is_none() {
        bail!("this is the reference checkout, not a learner workspace (scripts/learn start NN)");
    }
    let current: Vec<Region> = region::scan(root)?
        .into_iter()
        .filter(|r| &r.id == id)
        .collect();
    save_learner_code(root, id, &current)?;
    let reference = reference_regions(root, id)?;
    let files: std::collections::BTreeSet<PathBuf> =
        current.iter().map(|r| r.file.clone()).collect();
    for file in files {
        let bodies: Vec<Vec<String>> = reference
            .iter()
            .filter(|(r, _)| r.file == file)
            .map(|(r, body)| match with_reference {
                true => body.clone(),
                false => vec![r.todo_line()],
            })
            .collect();
        let path = root.join(&file);
        let lines = region::read_lines(&path)?;
        region::write_lines(&path, &region::replace_bodies(&file, &lines, id, &bodies)?)?;
    }
    Ok(())
}

/// `reset NN.K`: the exercise's regions back to `todo!()`.
pub fn reset(root: &Path, id: &ExerciseId) -> Result<()> {
    fill(root, id, false)?;
    println!("exercise {id} is blank again: scripts/learn hint {id}");
    Ok(())
}

/// `solution NN.K [--apply]`: print the reference, or write it in.
pub fn solution(root: &Path, id: &ExerciseId, apply: bool) -> Result<()> {
    if apply {
        fill(root, id, true)?;
        println!("exercise {id} now holds the reference code");
        return Ok(());
    }
    for (r, body) in reference_regions(root, id)? {
        println!(
            "// {}:{} — exercise {id}: {}",
            r.file.display(),
            r.begin + 1,
            r.title
        );
        for line in body {
            println!("{line}");
        }
        println!();
    }
    Ok(())
}

/// `list`: every exercise, where it is, and whether this checkout has it blank.
pub fn list(root: &Path) -> Result<()> {
    let regions = region::scan(root)?;
    let mut seen = std::collections::BTreeSet::new();
    for r in &regions {
        if !seen.insert(&r.id) {
            continue;
        }
        let lines = region::read_lines(&root.join(&r.file))?;
        let state = if r.body(&lines) == [r.todo_line()] {
            "to do"
        } else {
            "written"
        };
        println!(
            "{:<12} {:<8} {}  ({}:{})",
            r.id.to_string(),
            state,
            r.title,
            r.file.display(),
            r.begin + 1
        );
    }
    let ids: std::collections::BTreeSet<_> = regions.iter().map(|r| &r.id).collect();
    println!("{} exercises in {} regions", ids.len(), regions.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "pub fn add(a: u32, b: u32) -> u32 {\n    // exercise 01.1: add two numbers\n    a + b\n    // end of exercise 01.1\n}\n";
    const STAGES: &str = "[[stage]]\nid = \"01.1\"\nlib = [\"tests::\"]\nexpect = \"1 + 2 is 3\"\nhint = \"use +\"\n";

    fn run_git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .expect("run git");
        assert!(status.status.success(), "git {args:?}: {status:?}");
    }

    /// A course of one chapter with one exercise, committed.
    fn course() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let chapter = dir.path().join("chapters/01-add");
        std::fs::create_dir_all(chapter.join("src")).unwrap();
        std::fs::write(chapter.join("src/lib.rs"), LIB).unwrap();
        std::fs::write(chapter.join("stages.toml"), STAGES).unwrap();
        std::fs::write(
            chapter.join("Cargo.toml"),
            "[package]\nname = \"ch01-add\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(".gitignore"), "/exercises/\n/.learn/\n").unwrap();
        run_git(dir.path(), &["init", "-q"]);
        run_git(dir.path(), &["add", "."]);
        run_git(dir.path(), &["commit", "-qm", "course"]);
        dir
    }

    #[test]
    fn start_blanks_reset_keeps_the_learners_code_and_solution_restores_the_reference() {
        let course = course();
        let ws = course.path().join("ws");
        start(course.path(), "01", Some(ws.clone()), false).unwrap();
        let lib = ws.join("chapters/01-add/src/lib.rs");
        let blank = std::fs::read_to_string(&lib).unwrap();
        assert!(blank
            .contains("    todo!(\"exercise 01.1: add two numbers (scripts/learn hint 01.1)\")\n"));
        assert!(!blank.contains("a + b"));
        let hint = std::fs::read_to_string(ws.join("exercises/01.1.md")).unwrap();
        assert!(
            hint.contains("`fn add`, chapters/01-add/src/lib.rs:2"),
            "{hint}"
        );
        assert!(
            hint.contains("1 + 2 is 3") && hint.contains("use +"),
            "{hint}"
        );

        // The learner writes; a second start leaves the code alone.
        std::fs::write(
            &lib,
            blank.replace(
                "    todo!(\"exercise 01.1: add two numbers (scripts/learn hint 01.1)\")",
                "    b + a",
            ),
        )
        .unwrap();
        start(&ws, "01", None, false).unwrap();
        assert!(std::fs::read_to_string(&lib).unwrap().contains("b + a"));

        reset(&ws, &ExerciseId::parse("01.1").unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(&lib).unwrap(), blank);
        let saved: Vec<_> = std::fs::read_dir(ws.join(".learn/saved"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(saved.len(), 1);
        assert!(std::fs::read_to_string(saved[0].path())
            .unwrap()
            .contains("b + a"));

        solution(&ws, &ExerciseId::parse("01.1").unwrap(), true).unwrap();
        assert_eq!(std::fs::read_to_string(&lib).unwrap(), LIB);
        let saves = std::fs::read_dir(ws.join(".learn/saved")).unwrap().count();
        assert_eq!(saves, 2, "a second save in the same second keeps the first");
        run_git(
            course.path(),
            &["worktree", "remove", "--force", ws.to_str().unwrap()],
        );
    }

    #[test]
    fn the_reference_checkout_is_never_rewritten() {
        let course = course();
        let err = reset(course.path(), &ExerciseId::parse("01.1").unwrap()).unwrap_err();
        assert!(err.to_string().contains("not a learner workspace"), "{err}");
        assert_eq!(
            std::fs::read_to_string(course.path().join("chapters/01-add/src/lib.rs")).unwrap(),
            LIB
        );
    }
}
