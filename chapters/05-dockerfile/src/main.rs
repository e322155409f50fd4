//! `ch05-dockerfile`: read a Dockerfile as Docker does and print what it says.
//!
//! ```text
//! ch05-dockerfile parse Dockerfile                      # stages and instructions, as JSON
//! ch05-dockerfile parse Dockerfile --build-arg V=1.2    # with a build argument
//! ch05-dockerfile parse --raw Dockerfile                # as written, before substitution
//! ch05-dockerfile --explain parse Dockerfile            # narrate every parsing step
//! ch05-dockerfile ignore .dockerignore PATH...          # which paths a build would leave out
//! ch05-dockerfile build -t hello:v1 .                   # build the image the Dockerfile describes
//! ch05-dockerfile run hello:v1                          # and chapter 04's commands: run, images...
//! ```

use anyhow::Context;
use ch01_namespaces::explain;
use ch05_dockerfile::build::{build, BuildOptions};
use ch05_dockerfile::dockerignore::DockerIgnore;
use ch05_dockerfile::{parse, resolve};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "ch05-dockerfile",
    about = "Chapter 05: parse a Dockerfile the way Docker does, and build the image it describes"
)]
struct Cli {
    #[command(flatten)]
    state: ch04_images::cli::StateArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse a Dockerfile and print its stages and instructions as JSON.
    Parse {
        /// The Dockerfile.
        file: PathBuf,
        /// A build argument, NAME=VALUE (repeatable), as `docker build --build-arg`; a bare
        /// NAME takes its value from the environment (and is skipped if that has none).
        #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = build_arg)]
        build_args: Vec<(String, Option<String>)>,
        /// Print the instructions as written (no substitution, no stages).
        #[arg(long)]
        raw: bool,
    },
    /// Build an image from a Dockerfile and a build context (`docker build`).
    Build {
        /// The build context: the directory COPY and ADD read from.
        context: PathBuf,
        /// NAME[:TAG] for the image (repeatable).
        #[arg(long = "tag", short = 't', value_name = "NAME[:TAG]")]
        tags: Vec<String>,
        /// The Dockerfile (default: CONTEXT/Dockerfile).
        #[arg(long = "file", short = 'f')]
        file: Option<PathBuf>,
        /// A build argument, NAME=VALUE (repeatable); a bare NAME takes its value from the
        /// environment.
        #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = build_arg)]
        build_args: Vec<(String, Option<String>)>,
        /// Do not use the cache.
        #[arg(long)]
        no_cache: bool,
        /// Build only up to this stage.
        #[arg(long)]
        target: Option<String>,
        /// Print only the image id.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Chapter 04's commands: run, images, history, inspect, rmi, save, load...
    #[command(flatten)]
    Images(ch04_images::cli::Command),
    /// Tell, for each PATH of a build context, whether a .dockerignore file leaves it out.
    Ignore {
        /// The .dockerignore file.
        file: PathBuf,
        /// Paths relative to the context root.
        #[arg(required = true)]
        paths: Vec<String>,
    },
}

fn build_arg(text: &str) -> Result<(String, Option<String>), String> {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (text, std::env::var(text).ok()),
    };
    if name.is_empty() {
        return Err(format!("{text:?}: write NAME=VALUE or NAME"));
    }
    Ok((name.to_string(), value))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Images(_) => unreachable!("chapter 04's commands are run by main"),
        Command::Build {
            context,
            tags,
            file,
            build_args,
            no_cache,
            target,
            quiet,
        } => {
            let store = ch04_images::Store::open(&cli.state.root)?;
            let options = BuildOptions {
                context,
                dockerfile: file,
                tags,
                build_args: build_args
                    .into_iter()
                    .filter_map(|(name, value)| value.map(|v| (name, v)))
                    .collect(),
                no_cache,
                target,
                cgroup_parent: None,
            };
            let mut sink = std::io::sink();
            let mut stdout = std::io::stdout();
            let out: &mut (dyn std::io::Write + Send) = if quiet { &mut sink } else { &mut stdout };
            let image = build(&store, &options, out)?;
            if quiet {
                println!("{}", image.id());
            }
        }
        Command::Parse {
            file,
            build_args,
            raw,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("read {}", file.display()))?;
            let dockerfile = parse(&file.display().to_string(), &text)?;
            let build_args: Vec<(String, String)> = build_args
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name, v)))
                .collect();
            let json = if raw {
                serde_json::to_string_pretty(&dockerfile)?
            } else {
                let build = resolve(&dockerfile, &build_args)?;
                if !build.unused_build_args.is_empty() {
                    eprintln!(
                        "warning: build arguments not consumed by any ARG: {}",
                        build.unused_build_args.join(", ")
                    );
                }
                serde_json::to_string_pretty(&build)?
            };
            println!("{json}");
        }
        Command::Ignore { file, paths } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("read {}", file.display()))?;
            let ignore = DockerIgnore::parse(&text)?;
            for rule in &ignore.rules {
                explain!(
                    "{}:{}: {}{}",
                    file.display(),
                    rule.line,
                    if rule.exception {
                        "exception !"
                    } else {
                        "pattern "
                    },
                    rule.pattern
                );
            }
            for path in paths {
                let verdict = if ignore.is_ignored(&path) {
                    "ignored"
                } else {
                    "included"
                };
                println!("{verdict}\t{path}");
            }
        }
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    cli.state.enable_explain();
    if let Command::Images(command) = cli.command {
        let result = ch04_images::cli::execute("ch05-dockerfile", &cli.state.root, command);
        ch01_namespaces::cli::exit_with("ch05-dockerfile", result);
    }
    if let Err(error) = run(cli) {
        eprintln!("ch05-dockerfile: {error:#}");
        std::process::exit(1);
    }
}
