//! The runtime's help and version text, laid out as runc's (`NAME:`, then `PROG CMD - what it
//! does`), since tools and people that know runc read it. Each command's line names the runc
//! command it stands for. The differences that remain are listed in docs/compat.md.

/// The main help's one-line description.
pub const ABOUT: &str =
    "baleia's OCI runtime, in place of runc - Open Container Initiative runtime";

/// `baleia-runtime -h`.
pub const MAIN_TEMPLATE: &str = "\
NAME:
   {name} - {about}

USAGE:
   {usage}

{all-args}
";

/// `baleia-runtime COMMAND -h` (`NAME` is the command's).
fn command_template(name: &str) -> String {
    format!("NAME:\n   baleia-runtime {name} - {{about}}\n\nUSAGE:\n   {{usage}}\n\n{{all-args}}\n")
}

/// The runc version whose command line (and integration suite) we follow.
pub const RUNC_VERSION: &str = "1.1.5";

/// `-v`: runc's three lines (its version, a commit, the spec's version), ours in the first.
pub fn print_version() {
    println!(
        "baleia-runtime version {}, command line of runc version {RUNC_VERSION}",
        env!("CARGO_PKG_VERSION")
    );
    println!("commit: none (built by cargo from the baleia workspace)");
    println!("spec: {}", super::OCI_VERSION);
}

/// The command line, each command's help in runc's layout.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    super::RuntimeCli::command().mut_subcommands(|c| {
        let template = command_template(c.get_name());
        c.help_template(template)
    })
}

/// Help without a command.
pub fn print_main() {
    let _ = command().print_help();
}

/// A command line clap could not parse: help and version are printed (exit 0); an unknown
/// command asked for help says so as runc does (`No help topic for 'foo'`); anything else is
/// clap's own message. Returns the exit code.
pub fn parse_error(args: &[String], error: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            0
        }
        ErrorKind::InvalidSubcommand => {
            let asked_help = args.iter().any(|a| a == "-h" || a == "--help");
            let name = match error.get(clap::error::ContextKind::InvalidSubcommand) {
                Some(clap::error::ContextValue::String(name)) => name.clone(),
                _ => String::new(),
            };
            if asked_help {
                eprintln!("No help topic for '{name}'");
            } else {
                eprintln!("baleia-runtime: '{name}' is not a baleia-runtime command");
            }
            1
        }
        _ => {
            let _ = error.print();
            1
        }
    }
}
