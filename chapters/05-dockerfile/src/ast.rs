//! The typed syntax tree: what each instruction says, with where it was written.
//!
//! The same types describe a Dockerfile as parsed (values as written, `$VAR` still in them)
//! and as resolved for a build (values substituted, `COPY --from` bound to a stage or image).
//! Every type serialises to JSON with its fields in declaration order, so the output of
//! `ch05-dockerfile parse` is stable and diffable.

use crate::error::Pos;
use crate::heredoc::Heredoc;
use crate::lines::LogicalLine;
use serde::Serialize;

/// One instruction: its position, what it says, and its text as written.
#[derive(Debug, Clone, Serialize)]
pub struct Instruction {
    pub line: usize,
    pub column: usize,
    /// The last line the instruction spans (continuations and heredocs included).
    pub end_line: usize,
    #[serde(flatten)]
    pub command: Command,
    /// What the builder will make of it: a layer, or only configuration.
    pub effect: Effect,
    /// The instruction line with continuations joined (heredoc bodies are in `heredocs`).
    pub source: String,
    /// The map from `source` back to the file, for errors found after parsing.
    #[serde(skip)]
    pub logical: LogicalLine,
}

impl Instruction {
    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    /// Where `needle` first appears in the instruction (for errors found while resolving);
    /// the instruction's start if it does not appear.
    pub fn pos_of(&self, needle: &str) -> Pos {
        if needle.is_empty() {
            return self.pos();
        }
        // ASCII lowercasing keeps byte offsets, so a stage name lowercased by the parser is
        // still found where it was written in capitals.
        let found = self.logical.text.find(needle).or_else(|| {
            self.logical
                .text
                .to_ascii_lowercase()
                .find(&needle.to_ascii_lowercase())
        });
        found.map_or_else(|| self.pos(), |offset| self.logical.pos(offset))
    }
}

/// What an instruction says. The JSON tag `instruction` is the keyword.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "instruction", rename_all = "UPPERCASE")]
pub enum Command {
    From(From),
    Run(Run),
    Cmd(Cmd),
    Entrypoint(Cmd),
    Env(KeyValues),
    Arg(Arg),
    Label(KeyValues),
    Maintainer(Maintainer),
    Expose(Expose),
    Copy(Copy),
    Add(Add),
    Workdir(Workdir),
    User(User),
    Volume(Volume),
    Stopsignal(Stopsignal),
    Healthcheck(Healthcheck),
    Shell(Shell),
    Onbuild(Onbuild),
}

impl Command {
    /// The instruction's keyword, as Docker prints it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::From(_) => "FROM",
            Command::Run(_) => "RUN",
            Command::Cmd(_) => "CMD",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Env(_) => "ENV",
            Command::Arg(_) => "ARG",
            Command::Label(_) => "LABEL",
            Command::Maintainer(_) => "MAINTAINER",
            Command::Expose(_) => "EXPOSE",
            Command::Copy(_) => "COPY",
            Command::Add(_) => "ADD",
            Command::Workdir(_) => "WORKDIR",
            Command::User(_) => "USER",
            Command::Volume(_) => "VOLUME",
            Command::Stopsignal(_) => "STOPSIGNAL",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::Shell(_) => "SHELL",
            Command::Onbuild(_) => "ONBUILD",
        }
    }

    /// What the builder will make of it: a new file system layer, or only a change to the
    /// image's configuration (a history entry marked `empty_layer`).
    pub fn effect(&self) -> Effect {
        match self {
            Command::From(_) => Effect::Stage,
            Command::Arg(_) => Effect::BuildTime,
            Command::Run(_) | Command::Copy(_) | Command::Add(_) => Effect::Layer,
            _ => Effect::Config,
        }
    }
}

/// What an instruction does to the image being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Starts a build stage from a base.
    Stage,
    /// Adds a file system layer (RUN, COPY, ADD).
    Layer,
    /// Changes only the image configuration (ENV, CMD, EXPOSE, ...).
    Config,
    /// Exists only while building (ARG).
    BuildTime,
}

/// `FROM [--platform=P] IMAGE [AS NAME]`.
#[derive(Debug, Clone, Serialize)]
pub struct From {
    pub image: String,
    pub name: Option<String>,
    pub platform: Option<String>,
}

/// A command in shell form (run by the SHELL, `/bin/sh -c` by default) or exec form (argv).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "lowercase")]
pub enum CommandLine {
    Shell { text: String },
    Exec { argv: Vec<String> },
}

/// `RUN [--mount=...] [--network=...] [--security=...] COMMAND`.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub command: CommandLine,
    pub mounts: Vec<Mount>,
    pub network: Option<String>,
    pub security: Option<String>,
    pub heredocs: Vec<Heredoc>,
}

/// `RUN --mount=type=cache,target=/root/.cache`: the type and the other options in order.
#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: String,
    pub options: Vec<KeyValue>,
}

/// CMD and ENTRYPOINT.
#[derive(Debug, Clone, Serialize)]
pub struct Cmd {
    pub command: CommandLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// ENV and LABEL: `KEY=VALUE ...` (or the legacy `KEY VALUE`).
#[derive(Debug, Clone, Serialize)]
pub struct KeyValues {
    pub pairs: Vec<KeyValue>,
    /// True for the legacy one-pair form `ENV KEY the rest of the line`.
    pub legacy_form: bool,
}

/// `ARG NAME[=DEFAULT] ...`.
#[derive(Debug, Clone, Serialize)]
pub struct Arg {
    pub args: Vec<ArgDecl>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
    /// After resolving: the value in effect (a `--build-arg`, else the default, else the
    /// global ARG of that name); absent while the ARG has no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `MAINTAINER NAME`: deprecated; resolved into `LABEL maintainer=NAME`.
#[derive(Debug, Clone, Serialize)]
pub struct Maintainer {
    pub name: String,
}

/// `EXPOSE PORT[/PROTO] ...`; resolved ports read `8000/tcp` or `8000-8010/udp`.
#[derive(Debug, Clone, Serialize)]
pub struct Expose {
    pub ports: Vec<String>,
}

/// Where COPY takes its files from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CopyFrom {
    /// The build context (no `--from`).
    Context,
    /// `--from=` as written, before resolving.
    Unresolved { from: String },
    /// An earlier (or later: BuildKit allows it, without cycles) build stage.
    Stage { index: usize, name: Option<String> },
    /// An image, when `--from` names no stage.
    Image { reference: String },
}

/// `COPY [--from=S] [--chown=U:G] [--chmod=M] [--link] [--parents] [--exclude=P] SRC... DEST`.
#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    pub sources: Vec<String>,
    pub destination: String,
    pub from: CopyFrom,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    /// Sources given as heredocs (`COPY <<EOF /file`), in order.
    pub heredocs: Vec<Heredoc>,
}

/// What an ADD source is: a local path (a local tar archive is unpacked), or something the
/// builder must fetch. Fetching is not part of baleia: the builder refuses those clearly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddKind {
    Local,
    Url,
    Git,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddSource {
    pub kind: AddKind,
    pub path: String,
}

/// `ADD [--chown] [--chmod] [--link] [--checksum] [--keep-git-dir] [--unpack] SRC... DEST`.
#[derive(Debug, Clone, Serialize)]
pub struct Add {
    pub sources: Vec<AddSource>,
    pub destination: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    pub unpack: Option<bool>,
    pub exclude: Vec<String>,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workdir {
    pub path: String,
}

/// `USER NAME[:GROUP]` (names or numeric ids).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub user: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub paths: Vec<String>,
}

/// `STOPSIGNAL SIGTERM` or `STOPSIGNAL 15`.
#[derive(Debug, Clone, Serialize)]
pub struct Stopsignal {
    pub signal: String,
}

/// A Go-style duration (`30s`, `1m30s`, `500ms`), as written and in nanoseconds (the unit of
/// the image config's Healthcheck fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duration {
    pub text: String,
    pub nanoseconds: u64,
}

/// `HEALTHCHECK NONE`, or `HEALTHCHECK [--interval=...] ... CMD command`.
#[derive(Debug, Clone, Serialize)]
pub struct Healthcheck {
    /// `HEALTHCHECK NONE`: disable any check inherited from the base image.
    pub disable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// `SHELL ["executable", "parameters"]`: the shell for later shell-form commands.
#[derive(Debug, Clone, Serialize)]
pub struct Shell {
    pub shell: Vec<String>,
}

/// `ONBUILD INSTRUCTION`: stored in the image, run by builds that use it as their base.
#[derive(Debug, Clone, Serialize)]
pub struct Onbuild {
    /// The trigger as written (what goes into the image config's OnBuild list).
    pub trigger: String,
    pub command: Box<Command>,
}
