//! `ch04-images`: images as layers in a content-addressed store.
//!
//! ```text
//! ch04-images import rootfs.tar busybox:latest --change 'CMD ["/bin/sh"]'
//! ch04-images images
//! ch04-images history busybox
//! ch04-images commit 3f2a9c1b7d4e busy:v2 --message "add hello.txt"
//! ch04-images tree
//! ch04-images save -o busybox.tar busybox        (OCI archive; --format docker for docker save)
//! ch04-images load -i busybox.tar
//! ch04-images rmi busy:v2
//! ```
//!
//! ch04-images run busybox -- sh -c 'echo hi > /hello.txt'   (chapter 03's container on the image)
//! ch04-images run --keep --name box busybox -- sh -c 'echo hi > /hello.txt'; ch04-images commit box busy:v2

use ch01_namespaces::cli::{exit_with, parse_or_exit};
use ch04_images::cli::{execute, Command};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "ch04-images",
    about = "Chapter 04: images as layers in a content-addressed store; the layer tree; commit"
)]
struct Cli {
    #[command(flatten)]
    state: ch04_images::cli::StateArgs,
    #[command(subcommand)]
    command: Command,
}

fn main() {
    let cli: Cli = parse_or_exit();
    cli.state.enable_explain();
    exit_with(
        "ch04-images",
        execute("ch04-images", &cli.state.root, cli.command),
    )
}
