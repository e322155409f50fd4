//! `baleia completion bash|zsh|fish` and `baleia manpages DIR`: shell completions and man
//! pages generated from the same definitions as the command line itself (clap's
//! `clap_complete` and `clap_mangen`), so they never drift from the flags.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Write the completion script for `shell` to standard output.
pub fn completion(mut command: clap::Command, shell: clap_complete::Shell) -> Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "baleia", &mut script);
    match std::io::stdout().write_all(&script) {
        // `baleia completion bash | head`: the reader had enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        other => other.map(|()| 0).context("write the completion script"),
    }
}

/// Write `baleia.1` and one page per subcommand (`baleia-run.1`, `baleia-volume-ls.1`, ...)
/// into `dir`, as git and docker name theirs.
pub fn manpages(command: clap::Command, dir: &Path) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    let mut command = command;
    command.build();
    write_pages(&command, &["baleia"], dir)?;
    Ok(0)
}

fn write_pages(command: &clap::Command, words: &[&str], dir: &Path) -> Result<()> {
    if command.is_hide_set() {
        return Ok(());
    }
    // `baleia-volume-ls` names the page, `baleia volume ls` is what its usage shows.
    let name = words.join("-");
    let page = command
        .clone()
        .display_name(name.clone())
        .bin_name(words.join(" "));
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::fs::write(&path, out).with_context(|| format!("write {}", path.display()))?;
    for sub in command.get_subcommands() {
        if sub.get_name() != "help" {
            let words: Vec<&str> = words.iter().copied().chain([sub.get_name()]).collect();
            write_pages(sub, &words, dir)?;
        }
    }
    Ok(())
}
