//! `learn`: the learner edition of the course.
//!
//! The reference code marks the heart of each idea as an exercise region (see [`region`]).
//! `learn start 03` makes a learner workspace with chapter 03's regions replaced by
//! `todo!()`, `learn check 03` grades the learner's code stage by stage (see [`check`]), and
//! `learn prove` shows, for CI, that every stage passes on the reference and fails on its
//! blank (see [`prove`]). `scripts/learn` and `scripts/check` call it.

mod check;
mod prove;
mod region;
mod stages;
mod workspace;

use anyhow::Result;
use clap::{Parser, Subcommand};
use region::ExerciseId;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "learn",
    about = "Write the course's code yourself, graded stage by stage"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make a learner workspace (a git worktree) with chapter NN's exercises blank, or blank
    /// chapter NN in the workspace this is run from.
    Start {
        /// 00 to 07, or capstone.
        chapter: String,
        /// Where to make the workspace (default: ../baleia-learner beside this checkout).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Copy this checkout's `target/debug` into the new workspace (`cp --reflink=auto`),
        /// so its first check does not compile every dependency again.
        #[arg(long)]
        copy_target: bool,
    },
    /// Show an exercise's hint (the file exercises/NN.K.md of the workspace).
    Hint { exercise: String },
    /// Put an exercise back to `todo!()` (your code is saved in .learn/saved/ first).
    Reset { exercise: String },
    /// Show the reference code of an exercise; with --apply, write it in.
    Solution {
        exercise: String,
        #[arg(long)]
        apply: bool,
    },
    /// List every exercise: to do or written.
    List,
    /// Grade a chapter (NN) or one stage (NN.K), stopping at the first failing stage.
    Check { what: String },
    /// For CI: every stage passes on the reference, fails on its blank, and the learner
    /// edition compiles. Chapters default to all that have a stages.toml.
    Prove { chapters: Vec<String> },
}

fn main() {
    let cli = Cli::parse();
    let root = std::env::current_dir().expect("current directory");
    let result: Result<bool> = match cli.command {
        Cmd::Start {
            chapter,
            dir,
            copy_target,
        } => workspace::start(&root, &chapter, dir, copy_target).map(|_| true),
        Cmd::Hint { exercise } => ExerciseId::parse(&exercise)
            .and_then(|id| workspace::hint_text(&root, &id))
            .map(|text| {
                print!("{text}");
                true
            }),
        Cmd::Reset { exercise } => ExerciseId::parse(&exercise)
            .and_then(|id| workspace::reset(&root, &id))
            .map(|_| true),
        Cmd::Solution { exercise, apply } => ExerciseId::parse(&exercise)
            .and_then(|id| workspace::solution(&root, &id, apply))
            .map(|_| true),
        Cmd::List => workspace::list(&root).map(|_| true),
        Cmd::Check { what } => check::check(&root, &what),
        Cmd::Prove { chapters } => prove::prove(&root, &chapters),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(err) => {
            eprintln!("learn: {err:#}");
            std::process::exit(2);
        }
    }
}
