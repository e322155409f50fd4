//! `ch00-container [--rootfs DIR] [--memory BYTES] [--hostname NAME] -- COMMAND [ARG]...`
//! (as root): run COMMAND in a container. See the lesson, README.md.

use ch00_container::{run, Container};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut container = Container {
        argv: Vec::new(),
        hostname: "container".into(),
        rootfs: None,
        memory: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match arg.as_str() {
            "--rootfs" => container.rootfs = Some(value("--rootfs").into()),
            "--hostname" => container.hostname = value("--hostname"),
            "--memory" => {
                let text = value("--memory");
                let bytes = text
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--memory {text}: a number of bytes")));
                container.memory = Some(bytes);
            }
            "--" => {
                container.argv = args.by_ref().collect();
                break;
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if container.argv.is_empty() {
        usage("no command given");
    }
    match run(&container) {
        Ok(code) => std::process::exit(code),
        Err(message) => {
            eprintln!("ch00-container: {message}");
            std::process::exit(125);
        }
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("ch00-container: {problem}");
    eprintln!("usage: ch00-container [--rootfs DIR] [--memory BYTES] [--hostname NAME] -- COMMAND [ARG]...");
    std::process::exit(125)
}
