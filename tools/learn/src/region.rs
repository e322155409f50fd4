//! Exercise regions: the marked parts of the reference that a learner writes.
//!
//! A region is two comments around the tail of a block (usually a whole function body):
//!
//! ```text
//! pub fn chain_id(diff_ids: &[String]) -> String {
//!     // exercise 04.1: the chain id of a stack of layers
//!     ...the reference code...
//!     // end of exercise 04.1
//! }
//! ```
//!
//! Comments are invisible to the compiler, so the reference builds as it is. Because a region
//! ends where its block ends, replacing it with `todo!("…")` (an expression of type `!`, which
//! fits any return type) still compiles: that is the learner edition. Several regions may
//! share one id; together they are one exercise.

use anyhow::{bail, Context, Result};
use std::fmt;
use std::path::{Path, PathBuf};

const BEGIN: &str = "// exercise ";
const END: &str = "// end of exercise ";

/// An exercise id: a chapter (`00`…`07`, or `capstone`) and a number, `03.2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExerciseId {
    pub chapter: String,
    pub number: u32,
}

impl ExerciseId {
    pub fn parse(text: &str) -> Result<ExerciseId> {
        let (chapter, number) = text
            .rsplit_once('.')
            .with_context(|| format!("{text:?} is not an exercise id such as 03.2"))?;
        let number = number
            .parse()
            .with_context(|| format!("{text:?}: the part after the dot must be a number"))?;
        check_chapter(chapter)?;
        Ok(ExerciseId {
            chapter: chapter.to_string(),
            number,
        })
    }
}

impl fmt::Display for ExerciseId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}.{}", self.chapter, self.number)
    }
}

/// A chapter is two digits or `capstone`.
pub fn check_chapter(chapter: &str) -> Result<()> {
    let digits = chapter.len() == 2 && chapter.bytes().all(|b| b.is_ascii_digit());
    if !digits && chapter != "capstone" {
        bail!("{chapter:?} is not a chapter: use two digits (00 to 07) or capstone");
    }
    Ok(())
}

/// One marked region in one file.
#[derive(Debug, Clone)]
pub struct Region {
    pub id: ExerciseId,
    pub title: String,
    /// The file, relative to the repository.
    pub file: PathBuf,
    /// 0-based line indexes of the begin and end markers.
    pub begin: usize,
    pub end: usize,
    /// The begin marker's indentation, which the `todo!()` line gets too.
    pub indent: String,
    /// The function the region is in (the nearest `fn` line above it), for the hint file.
    pub function: Option<String>,
}

impl Region {
    /// The code between the markers, as written in `lines`.
    pub fn body<'a>(&self, lines: &'a [String]) -> &'a [String] {
        &lines[self.begin + 1..self.end]
    }

    /// The line that stands in for the learner's code.
    pub fn todo_line(&self) -> String {
        format!(
            "{}todo!(\"exercise {}: {} (scripts/learn hint {})\")",
            self.indent,
            self.id,
            // A string literal that is also a format string: escape quotes and braces.
            self.title
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('{', "{{")
                .replace('}', "}}"),
            self.id
        )
    }
}

/// The regions of one file's text. Errors name the file and line of a malformed marker.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Region>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut regions = Vec::new();
    let mut open: Option<Region> = None;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let at = || format!("{}:{}", file.display(), index + 1);
        if let Some(rest) = trimmed.strip_prefix(END) {
            let id = ExerciseId::parse(rest.trim()).with_context(at)?;
            let Some(mut region) = open.take() else {
                bail!("{}: `{END}{id}` without its begin marker", at());
            };
            if region.id != id {
                bail!("{}: ends exercise {id} inside exercise {}", at(), region.id);
            }
            region.end = index;
            let next = lines[index + 1..].iter().find(|l| !l.trim().is_empty());
            if !next.is_some_and(|l| l.trim_start().starts_with('}')) {
                bail!(
                    "{}: exercise {id} must end where its block ends (the next line must be `}}`), \
                     so that `todo!()` can stand in for it",
                    at()
                );
            }
            regions.push(region);
        } else if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            let (id, title) = rest
                .split_once(':')
                .with_context(|| format!("{}: write `{BEGIN}NN.K: title`", at()))?;
            let id = ExerciseId::parse(id.trim()).with_context(at)?;
            if let Some(region) = &open {
                bail!(
                    "{}: exercise {id} begins inside exercise {}",
                    at(),
                    region.id
                );
            }
            let function = lines[..index]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .find_map(|l| {
                    let after = l.split_once("fn ")?.1;
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    (!name.is_empty()).then_some(name)
                });
            open = Some(Region {
                id,
                title: title.trim().to_string(),
                file: file.to_path_buf(),
                begin: index,
                end: index,
                indent: line[..line.len() - trimmed.len()].to_string(),
                function,
            });
        }
    }
    if let Some(region) = open {
        bail!(
            "{}:{}: exercise {} has no `{END}{}`",
            file.display(),
            region.begin + 1,
            region.id,
            region.id
        );
    }
    Ok(regions)
}

/// Where regions may be: the chapters and the capstone.
const SOURCE_DIRS: &[&str] = &["chapters", "capstone"];

/// Every region of the repository at `root`, sorted by id then file order.
pub fn scan(root: &Path) -> Result<Vec<Region>> {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        collect_rust_files(&root.join(dir), &mut files)?;
    }
    let mut regions = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        if text.contains(BEGIN) || text.contains(END) {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            regions.extend(parse(relative, &text)?);
        }
    }
    regions.sort_by(|a, b| (&a.id, &a.file, a.begin).cmp(&(&b.id, &b.file, b.begin)));
    Ok(regions)
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default();
        if path.is_dir() && name != "target" {
            collect_rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// What stands in a region's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blank {
    /// The learner edition: `todo!("exercise NN.K: …")` alone.
    Todo,
    /// For the proof that a stage can fail: the reference code, preceded by a `todo!()` that
    /// runs only when the environment variable `BALEIA_LEARN_BLANK` (ids, comma-separated)
    /// names this exercise. One build then serves "the reference passes", "this blank fails"
    /// and "later blanks do not matter".
    Switchable,
}

/// Rewrite `lines` (one file) with every region in `regions` (all from that file) blanked.
/// The markers stay, so the learner's code can be found, reset or checked later.
pub fn blank(lines: &[String], regions: &[&Region], how: Blank) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    let mut index = 0;
    let mut sorted: Vec<&&Region> = regions.iter().collect();
    sorted.sort_by_key(|r| r.begin);
    for region in sorted {
        out.extend_from_slice(&lines[index..=region.begin]);
        match how {
            Blank::Todo => out.push(region.todo_line()),
            Blank::Switchable => {
                out.push(format!(
                    "{}if std::env::var(\"BALEIA_LEARN_BLANK\")\
                     .is_ok_and(|v| v.split(',').any(|id| id == \"{}\")) {{ {} }}",
                    region.indent,
                    region.id,
                    region.todo_line().trim_start()
                ));
                out.extend_from_slice(region.body(lines));
            }
        }
        index = region.end;
    }
    out.extend_from_slice(&lines[index..]);
    out
}

/// Replace the body of exercise `id`'s regions in `lines` (a learner's file, markers intact)
/// with `bodies`, one per region in file order.
pub fn replace_bodies(
    file: &Path,
    lines: &[String],
    id: &ExerciseId,
    bodies: &[Vec<String>],
) -> Result<Vec<String>> {
    let text = lines.join("\n");
    let regions: Vec<Region> = parse(file, &text)?
        .into_iter()
        .filter(|r| &r.id == id)
        .collect();
    if regions.len() != bodies.len() {
        bail!(
            "{}: exercise {id} has {} region(s) here and {} in the reference; were its markers \
             edited?",
            file.display(),
            regions.len(),
            bodies.len()
        );
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut index = 0;
    for (region, body) in regions.iter().zip(bodies) {
        out.extend_from_slice(&lines[index..=region.begin]);
        out.extend_from_slice(body);
        index = region.end;
    }
    out.extend_from_slice(&lines[index..]);
    Ok(out)
}

/// A file's lines, to write back with [`write_lines`] (which ends the file with a newline).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    Ok(text.lines().map(str::to_string).collect())
}

pub fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "fn add(a: u32, b: u32) -> u32 {\n    // exercise 01.1: add two numbers\n    let sum = a + b;\n    sum\n    // end of exercise 01.1\n}\n";

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_region_is_found_with_its_title_function_and_lines() {
        let regions = parse(Path::new("x.rs"), SOURCE).unwrap();
        assert_eq!(regions.len(), 1);
        let r = &regions[0];
        assert_eq!(r.id.to_string(), "01.1");
        assert_eq!(r.title, "add two numbers");
        assert_eq!(r.function.as_deref(), Some("add"));
        assert_eq!((r.begin, r.end, r.indent.as_str()), (1, 4, "    "));
    }

    #[test]
    fn todo_replaces_the_body_and_keeps_the_markers() {
        let regions = parse(Path::new("x.rs"), SOURCE).unwrap();
        let out = blank(&lines(SOURCE), &[&regions[0]], Blank::Todo);
        assert_eq!(
            out.join("\n"),
            "fn add(a: u32, b: u32) -> u32 {\n    // exercise 01.1: add two numbers\n    \
             todo!(\"exercise 01.1: add two numbers (scripts/learn hint 01.1)\")\n    \
             // end of exercise 01.1\n}"
        );
        let back = replace_bodies(
            Path::new("x.rs"),
            &out,
            &regions[0].id,
            &[regions[0].body(&lines(SOURCE)).to_vec()],
        )
        .unwrap();
        assert_eq!(back, lines(SOURCE));
    }

    #[test]
    fn braces_and_quotes_in_a_title_stay_text_in_the_todo() {
        let text = "fn f() {\n    // exercise 05.2: the ${VAR:-\"word\"} family\n    1\n    // end of exercise 05.2\n}\n";
        let regions = parse(Path::new("x.rs"), text).unwrap();
        assert_eq!(
            regions[0].todo_line(),
            "    todo!(\"exercise 05.2: the ${{VAR:-\\\"word\\\"}} family (scripts/learn hint 05.2)\")"
        );
    }

    #[test]
    fn a_region_that_is_not_the_tail_of_its_block_is_refused() {
        let text = "fn f() {\n    // exercise 01.1: x\n    let a = 1;\n    // end of exercise 01.1\n    a;\n}\n";
        let err = parse(Path::new("x.rs"), text).unwrap_err().to_string();
        assert!(err.contains("x.rs:4"), "{err}");
        assert!(err.contains("must end where its block ends"), "{err}");
    }

    #[test]
    fn unclosed_and_mismatched_markers_are_refused() {
        let unclosed = "fn f() {\n    // exercise 01.1: x\n}\n";
        assert!(parse(Path::new("x.rs"), unclosed).is_err());
        let mismatched = "fn f() {\n    // exercise 01.1: x\n    // end of exercise 01.2\n}\n";
        assert!(parse(Path::new("x.rs"), mismatched).is_err());
    }
}
