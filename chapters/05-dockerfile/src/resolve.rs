//! From a parsed Dockerfile to a build plan: stages, with variables substituted and every
//! `COPY --from` bound to a stage or an image.
//!
//! Scoping, as in Docker (Dockerfile reference, "ARG", "Understand how ARG and FROM interact"):
//! - ARGs before the first FROM are *global*: only FROM lines see them, and the automatic
//!   platform ARGs (`TARGETPLATFORM`, `TARGETARCH`, `BUILDOS`...) are there too;
//! - inside a stage, an ARG is visible from its line on; `ARG NAME` without a default takes
//!   the global value of the same name; a `--build-arg NAME=V` overrides any default;
//! - ENV wins over an ARG of the same name; `ENV a=1 b=$a` sees the *old* `a` (all pairs of
//!   one ENV are substituted with the environment from before the instruction).
//!
//! What the parser cannot know: the base image's own ENV (its `PATH`, say). A `$PATH` that no
//! ARG or ENV in the Dockerfile sets is substituted as empty here; the builder, which reads the
//! base image's config, redoes this step with that environment as the starting point
//! ([`resolve_with_base_env`]).

use crate::ast::*;
use crate::error::{ParseError, Problem};
use crate::parser::Dockerfile;
use crate::reference;
use crate::substitute::{self, Quotes};
use crate::values::{add_source, is_signal, normalize_port};
use ch01_namespaces::explain;
use serde::Serialize;

/// A Dockerfile ready to build.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    pub file: String,
    pub directives: crate::directives::Directives,
    /// The ARGs before the first FROM, resolved.
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// `--build-arg`s no ARG declared (Docker warns about them).
    #[serde(skip)]
    pub unused_build_args: Vec<String>,
}

/// One build stage: `FROM base [AS name]` and what follows, up to the next FROM.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    pub platform: Option<String>,
    /// The stage's instructions, its FROM first, substituted.
    pub instructions: Vec<Instruction>,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Base {
    /// `FROM scratch`: an empty file system.
    Scratch,
    /// An image, pulled or found in the local store by the builder.
    Image { reference: String },
    /// An earlier stage of this Dockerfile.
    Stage { index: usize, name: Option<String> },
}

/// Resolve with no base-image environment (what `ch05-dockerfile parse` shows).
pub fn resolve(
    dockerfile: &Dockerfile,
    build_args: &[(String, String)],
) -> Result<Build, ParseError> {
    resolve_with_base_env(dockerfile, build_args, &|_| Vec::new())
}

/// Resolve, starting each stage's environment with `base_env(base)` (the builder passes the
/// base image's ENV here).
pub fn resolve_with_base_env(
    dockerfile: &Dockerfile,
    build_args: &[(String, String)],
    base_env: &dyn Fn(&Base) -> Vec<(String, String)>,
) -> Result<Build, ParseError> {
    let mut resolver = Resolver {
        escape: dockerfile.directives.escape,
        build_args,
        consumed: Vec::new(),
    };
    resolver
        .run(dockerfile, base_env)
        .map_err(|problem| dockerfile.error(problem))
}

/// The automatic platform ARGs, for the machine we run on (builds target the host).
pub fn platform_args() -> Vec<(String, String)> {
    let (arch, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", ""),
        "aarch64" => ("arm64", ""),
        "arm" => ("arm", "v7"),
        "x86" => ("386", ""),
        "powerpc64" => ("ppc64le", ""),
        other => (other, ""),
    };
    let platform = if variant.is_empty() {
        format!("linux/{arch}")
    } else {
        format!("linux/{arch}/{variant}")
    };
    let mut args = Vec::new();
    for prefix in ["BUILD", "TARGET"] {
        args.push((format!("{prefix}PLATFORM"), platform.clone()));
        args.push((format!("{prefix}OS"), "linux".to_string()));
        args.push((format!("{prefix}ARCH"), arch.to_string()));
        args.push((format!("{prefix}VARIANT"), variant.to_string()));
    }
    args
}

/// The variables in scope at one point: ARGs and ENVs, later ones shadowing earlier ones.
#[derive(Default, Clone)]
struct Scope {
    env: Vec<(String, String)>,
    args: Vec<(String, Option<String>)>,
}

impl Scope {
    fn get(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        self.args
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    }
}

struct Resolver<'a> {
    escape: char,
    build_args: &'a [(String, String)],
    consumed: Vec<String>,
}

impl Resolver<'_> {
    fn run(
        &mut self,
        dockerfile: &Dockerfile,
        base_env: &dyn Fn(&Base) -> Vec<(String, String)>,
    ) -> Result<Build, Problem> {
        explain!("resolving: substituting ARG and ENV values, binding stages");
        let mut global = Scope {
            env: Vec::new(),
            args: platform_args()
                .into_iter()
                .map(|(n, v)| (n, Some(v)))
                .collect(),
        };
        let mut instructions = dockerfile.instructions.iter().peekable();
        let mut global_args = Vec::new();
        while let Some(instruction) = instructions.next_if(|i| matches!(i.command, Command::Arg(_)))
        {
            let resolved = self.arg(instruction, &mut global, &Scope::default())?;
            global_args.push(resolved);
        }
        let mut stages: Vec<Stage> = Vec::new();
        // Each stage's ENV at its end: a stage built `FROM` an earlier one starts with it.
        let mut stage_envs: Vec<Vec<(String, String)>> = Vec::new();
        let mut scope = Scope::default();
        for instruction in instructions {
            if let Command::From(from) = &instruction.command {
                let stage = self.from(instruction, from, &global, &stages)?;
                explain!(
                    "stage {}{}: FROM {}",
                    stage.index,
                    stage
                        .name
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    match &stage.base {
                        Base::Scratch => "scratch (empty)".to_string(),
                        Base::Image { reference } => format!("image {reference}"),
                        Base::Stage { index, .. } => format!("stage {index}"),
                    }
                );
                if !stages.is_empty() {
                    stage_envs.push(std::mem::take(&mut scope.env));
                }
                let env = match &stage.base {
                    Base::Stage { index, .. } => stage_envs[*index].clone(),
                    other => base_env(other),
                };
                scope = Scope {
                    env,
                    args: Vec::new(),
                };
                stages.push(stage);
                continue;
            }
            let resolved = self.instruction(instruction, &mut scope, &global)?;
            if let Some(stage) = stages.last_mut() {
                stage.instructions.push(resolved);
            }
        }
        bind_copy_sources(dockerfile, &mut stages)?;
        let unused_build_args = self
            .build_args
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !self.consumed.contains(n))
            .collect::<Vec<_>>();
        for name in &unused_build_args {
            explain!("build argument {name} is not declared by any ARG: not used");
        }
        Ok(Build {
            file: dockerfile.file.clone(),
            directives: dockerfile.directives.clone(),
            global_args,
            stages,
            unused_build_args,
        })
    }

    /// Substitute one word (written in `instruction`) with the variables of `scope`.
    fn sub(
        &self,
        instruction: &Instruction,
        word: &str,
        scope: &Scope,
        quotes: Quotes,
    ) -> Result<String, Problem> {
        let expanded = substitute::expand(word, self.escape, quotes, &|name| scope.get(name))
            .map_err(|e| Problem::new(instruction.pos_of(word), e.message))?;
        if !expanded.used.is_empty() {
            let mut uses: Vec<String> = expanded
                .used
                .iter()
                .map(|u| match &u.value {
                    Some(v) => format!("${}={v:?}", u.name),
                    None => format!("${} (unset)", u.name),
                })
                .collect();
            uses.dedup();
            explain!(
                "line {}: {:?} -> {:?} ({})",
                instruction.line,
                word,
                expanded.text,
                uses.join(", ")
            );
        }
        Ok(expanded.text)
    }

    fn subs(
        &self,
        instruction: &Instruction,
        words: &[String],
        scope: &Scope,
    ) -> Result<Vec<String>, Problem> {
        words
            .iter()
            .map(|w| self.sub(instruction, w, scope, Quotes::Process))
            .collect()
    }

    fn opt(
        &self,
        instruction: &Instruction,
        word: &Option<String>,
        scope: &Scope,
    ) -> Result<Option<String>, Problem> {
        word.as_ref()
            .map(|w| self.sub(instruction, w, scope, Quotes::Process))
            .transpose()
    }

    fn build_arg(&mut self, name: &str) -> Option<String> {
        let value = self
            .build_args
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        if value.is_some() && !self.consumed.iter().any(|c| c == name) {
            self.consumed.push(name.to_string());
        }
        value
    }

    /// ARG: each name gets the build argument, else its default, else the global value.
    fn arg(
        &mut self,
        instruction: &Instruction,
        scope: &mut Scope,
        global: &Scope,
    ) -> Result<Instruction, Problem> {
        let Command::Arg(arg) = &instruction.command else {
            return Ok(instruction.clone());
        };
        let mut decls = Vec::new();
        for decl in &arg.args {
            let default = self.opt(instruction, &decl.default, scope)?;
            let value = match self.build_arg(&decl.name) {
                Some(v) => Some(v),
                None => default.clone().or_else(|| global.get(&decl.name)),
            };
            explain!(
                "line {}: ARG {} = {}",
                instruction.line,
                decl.name,
                value
                    .as_deref()
                    .map_or("(no value)".to_string(), |v| format!("{v:?}"))
            );
            scope.args.push((decl.name.clone(), value.clone()));
            decls.push(ArgDecl {
                name: decl.name.clone(),
                default,
                value,
            });
        }
        Ok(with_command(instruction, Command::Arg(Arg { args: decls })))
    }

    fn from(
        &mut self,
        instruction: &Instruction,
        from: &From,
        global: &Scope,
        stages: &[Stage],
    ) -> Result<Stage, Problem> {
        let image = self.sub(instruction, &from.image, global, Quotes::Process)?;
        let platform = self.opt(instruction, &from.platform, global)?;
        if image.is_empty() {
            return Err(Problem::new(
                instruction.pos_of(&from.image),
                format!(
                    "FROM {}: the image name is empty after substitution",
                    from.image
                ),
            ));
        }
        if let Some(name) = &from.name {
            if stages.iter().any(|s| s.name.as_deref() == Some(name)) {
                return Err(Problem::new(
                    instruction.pos_of(name),
                    format!("duplicate stage name {name:?}"),
                ));
            }
        }
        let lower = image.to_ascii_lowercase();
        let base = if let Some(stage) = stages.iter().find(|s| s.name.as_deref() == Some(&lower)) {
            Base::Stage {
                index: stage.index,
                name: stage.name.clone(),
            }
        } else if lower == "scratch" {
            Base::Scratch
        } else {
            reference::validate(&image).map_err(|why| {
                Problem::new(
                    instruction.pos_of(&from.image),
                    format!("FROM {image}: not a valid image reference ({why})"),
                )
            })?;
            Base::Image {
                reference: image.clone(),
            }
        };
        let resolved = with_command(
            instruction,
            Command::From(From {
                image,
                name: from.name.clone(),
                platform: platform.clone(),
            }),
        );
        Ok(Stage {
            index: stages.len(),
            name: from.name.clone(),
            base,
            platform,
            instructions: vec![resolved],
        })
    }

    fn instruction(
        &mut self,
        instruction: &Instruction,
        scope: &mut Scope,
        global: &Scope,
    ) -> Result<Instruction, Problem> {
        let i = instruction;
        let command = match &i.command {
            Command::Arg(_) => return self.arg(i, scope, global),
            Command::Env(kv) => {
                let pairs = self.pairs(i, &kv.pairs, scope)?;
                scope
                    .env
                    .extend(pairs.iter().map(|p| (p.key.clone(), p.value.clone())));
                Command::Env(KeyValues {
                    pairs,
                    legacy_form: kv.legacy_form,
                })
            }
            Command::Label(kv) => Command::Label(KeyValues {
                pairs: self.pairs(i, &kv.pairs, scope)?,
                legacy_form: kv.legacy_form,
            }),
            Command::Maintainer(m) => {
                explain!(
                    "line {}: MAINTAINER is deprecated: recorded as LABEL maintainer={:?}",
                    i.line,
                    m.name
                );
                Command::Label(KeyValues {
                    pairs: vec![KeyValue {
                        key: "maintainer".into(),
                        value: m.name.clone(),
                    }],
                    legacy_form: false,
                })
            }
            Command::Expose(e) => {
                let mut ports = Vec::new();
                for raw in &e.ports {
                    let port = self.sub(i, raw, scope, Quotes::Process)?;
                    ports.push(normalize_port(&port).map_err(|m| Problem::new(i.pos_of(raw), m))?);
                }
                Command::Expose(Expose { ports })
            }
            Command::Copy(c) => Command::Copy(Copy {
                sources: self.subs(i, &c.sources, scope)?,
                destination: self.sub(i, &c.destination, scope, Quotes::Process)?,
                from: match &c.from {
                    CopyFrom::Unresolved { from } => CopyFrom::Unresolved {
                        from: self.sub(i, from, scope, Quotes::Process)?,
                    },
                    other => other.clone(),
                },
                chown: self.opt(i, &c.chown, scope)?,
                chmod: self.opt(i, &c.chmod, scope)?,
                link: c.link,
                parents: c.parents,
                exclude: self.subs(i, &c.exclude, scope)?,
                heredocs: self.heredocs(i, &c.heredocs, scope)?,
            }),
            Command::Add(a) => {
                let paths: Vec<String> = a.sources.iter().map(|s| s.path.clone()).collect();
                Command::Add(Add {
                    sources: self
                        .subs(i, &paths, scope)?
                        .into_iter()
                        .map(add_source)
                        .collect(),
                    destination: self.sub(i, &a.destination, scope, Quotes::Process)?,
                    chown: self.opt(i, &a.chown, scope)?,
                    chmod: self.opt(i, &a.chmod, scope)?,
                    link: a.link,
                    checksum: self.opt(i, &a.checksum, scope)?,
                    keep_git_dir: a.keep_git_dir,
                    unpack: a.unpack,
                    exclude: self.subs(i, &a.exclude, scope)?,
                    heredocs: self.heredocs(i, &a.heredocs, scope)?,
                })
            }
            Command::Workdir(w) => Command::Workdir(Workdir {
                path: self.sub(i, &w.path, scope, Quotes::Process)?,
            }),
            Command::User(u) => Command::User(User {
                user: self.sub(i, &u.user, scope, Quotes::Process)?,
            }),
            Command::Volume(v) => Command::Volume(Volume {
                paths: self.subs(i, &v.paths, scope)?,
            }),
            Command::Stopsignal(s) => {
                let signal = self.sub(i, &s.signal, scope, Quotes::Process)?;
                if !is_signal(&signal) {
                    return Err(Problem::new(
                        i.pos_of(&s.signal),
                        format!(
                            "STOPSIGNAL {signal}: not a signal (write e.g. SIGTERM, TERM or 15)"
                        ),
                    ));
                }
                Command::Stopsignal(Stopsignal { signal })
            }
            Command::Run(r) => {
                let mut run = r.clone();
                for mount in &mut run.mounts {
                    for option in &mut mount.options {
                        option.value = self.sub(i, &option.value, scope, Quotes::Process)?;
                    }
                }
                Command::Run(run)
            }
            // The shell substitutes these when the container runs; ONBUILD triggers are
            // resolved by the build that uses this image as its base.
            other => other.clone(),
        };
        Ok(with_command(i, command))
    }

    /// ENV/LABEL pairs, all substituted with the scope from before the instruction.
    fn pairs(
        &self,
        i: &Instruction,
        pairs: &[KeyValue],
        scope: &Scope,
    ) -> Result<Vec<KeyValue>, Problem> {
        pairs
            .iter()
            .map(|p| {
                Ok(KeyValue {
                    key: self.sub(i, &p.key, scope, Quotes::Process)?,
                    value: self.sub(i, &p.value, scope, Quotes::Process)?,
                })
            })
            .collect()
    }

    /// COPY/ADD heredoc bodies are substituted (quotes kept) unless the delimiter was quoted.
    fn heredocs(
        &self,
        i: &Instruction,
        heredocs: &[crate::heredoc::Heredoc],
        scope: &Scope,
    ) -> Result<Vec<crate::heredoc::Heredoc>, Problem> {
        heredocs
            .iter()
            .map(|h| {
                let mut h = h.clone();
                if h.expand {
                    h.content = self.sub(i, &h.content, scope, Quotes::Keep)?;
                }
                Ok(h)
            })
            .collect()
    }
}

fn with_command(instruction: &Instruction, command: Command) -> Instruction {
    Instruction {
        effect: command.effect(),
        command,
        ..instruction.clone()
    }
}

/// Bind every `COPY --from` (BuildKit's rules): a number is a stage index and must exist; a
/// name of a stage (any stage, case-insensitive) is that stage; anything else is an image
/// reference, and if it is not a valid one it can only be a stage that does not exist. A stage
/// may not depend on itself, directly or through others.
fn bind_copy_sources(dockerfile: &Dockerfile, stages: &mut [Stage]) -> Result<(), Problem> {
    let names: Vec<Option<String>> = stages.iter().map(|s| s.name.clone()).collect();
    for stage in stages.iter_mut() {
        for instruction in &mut stage.instructions {
            let at = instruction.pos_of("--from");
            let line = instruction.line;
            let Command::Copy(copy) = &mut instruction.command else {
                continue;
            };
            let CopyFrom::Unresolved { from } = &copy.from else {
                continue;
            };
            let bound = if !from.is_empty() && from.chars().all(|c| c.is_ascii_digit()) {
                let index = from.parse::<usize>().unwrap_or(usize::MAX);
                if index >= names.len() {
                    return Err(Problem::new(
                        at,
                        format!(
                            "COPY --from={from}: undefined stage: there is no stage {from} (this Dockerfile has stages 0 to {})",
                            names.len() - 1
                        ),
                    ));
                }
                CopyFrom::Stage {
                    index,
                    name: names[index].clone(),
                }
            } else if let Some(index) = names
                .iter()
                .position(|n| n.as_deref() == Some(&from.to_ascii_lowercase()))
            {
                CopyFrom::Stage {
                    index,
                    name: names[index].clone(),
                }
            } else {
                reference::validate(from).map_err(|why| {
                    Problem::new(
                        at,
                        format!(
                            "COPY --from={from}: undefined stage: no stage is named {:?}, and it is not an image reference either ({why})",
                            from.to_ascii_lowercase()
                        ),
                    )
                })?;
                CopyFrom::Image {
                    reference: from.clone(),
                }
            };
            explain!("line {line}: COPY --from={from} is {bound:?}");
            copy.from = bound;
        }
    }
    check_cycles(dockerfile, stages)
}

/// Stage dependencies (a stage base, COPY --from) must not loop back.
fn check_cycles(_dockerfile: &Dockerfile, stages: &[Stage]) -> Result<(), Problem> {
    let deps = |stage: &Stage| -> Vec<(usize, crate::error::Pos)> {
        let mut out = Vec::new();
        if let Base::Stage { index, .. } = stage.base {
            out.push((index, stage.instructions[0].pos()));
        }
        for i in &stage.instructions {
            if let Command::Copy(Copy {
                from: CopyFrom::Stage { index, .. },
                ..
            }) = &i.command
            {
                out.push((*index, i.pos_of("--from")));
            }
        }
        out
    };
    for start in 0..stages.len() {
        // Depth-first from `start`: reaching `start` again is a cycle.
        let mut stack: Vec<(usize, crate::error::Pos)> = deps(&stages[start]);
        let mut seen = vec![false; stages.len()];
        while let Some((stage, at)) = stack.pop() {
            if stage == start {
                let name = stages[start]
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("stage-{start}"));
                return Err(Problem::new(
                    at,
                    format!("circular dependency detected on stage: {name}"),
                ));
            }
            if !std::mem::replace(&mut seen[stage], true) {
                stack.extend(deps(&stages[stage]).into_iter().map(|(d, _)| (d, at)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn build(text: &str, args: &[(&str, &str)]) -> Result<Build, ParseError> {
        let args: Vec<(String, String)> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&parse("Dockerfile", text).unwrap(), &args)
    }

    fn workdir(build: &Build, stage: usize) -> String {
        build.stages[stage]
            .instructions
            .iter()
            .find_map(|i| match &i.command {
                Command::Workdir(w) => Some(w.path.clone()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn a_global_arg_is_seen_in_a_stage_only_when_declared_again() {
        let text = "ARG V=1\nFROM a:$V\nWORKDIR /$V\nFROM b\nARG V\nWORKDIR /$V\n";
        let b = build(text, &[]).unwrap();
        assert_eq!(
            b.stages[0].base,
            Base::Image {
                reference: "a:1".into()
            }
        );
        assert_eq!(workdir(&b, 0), "/");
        assert_eq!(workdir(&b, 1), "/1");
        let b = build(text, &[("V", "2")]).unwrap();
        assert_eq!(workdir(&b, 1), "/2");
        assert!(b.unused_build_args.is_empty());
    }

    #[test]
    fn automatic_platform_args_are_global() {
        let b = build(
            "FROM --platform=$BUILDPLATFORM a AS x\nARG TARGETOS\nWORKDIR /$TARGETOS\n",
            &[],
        )
        .unwrap();
        let platform = platform_args()
            .into_iter()
            .find(|(n, _)| n == "BUILDPLATFORM")
            .unwrap()
            .1;
        assert_eq!(b.stages[0].platform, Some(platform));
        assert_eq!(workdir(&b, 0), "/linux");
    }

    #[test]
    fn env_wins_over_arg_and_env_pairs_see_the_old_values() {
        let b = build("FROM a\nARG X=arg\nENV X=env\nWORKDIR /$X\n", &[]).unwrap();
        assert_eq!(workdir(&b, 0), "/env");
        let b = build(
            "FROM a\nENV abc=hello\nENV abc=bye def=$abc\nWORKDIR /$def\n",
            &[],
        )
        .unwrap();
        assert_eq!(workdir(&b, 0), "/hello");
    }

    #[test]
    fn the_base_image_environment_can_be_supplied() {
        let df = parse("Dockerfile", "FROM a\nENV PATH=/app:$PATH\nWORKDIR $PATH\n").unwrap();
        let b = resolve_with_base_env(&df, &[], &|_| vec![("PATH".into(), "/bin".into())]).unwrap();
        assert_eq!(workdir(&b, 0), "/app:/bin");
    }

    #[test]
    fn a_stage_built_on_a_stage_starts_with_its_environment() {
        let text = "FROM a AS one\nENV DIR=/one\nFROM one\nWORKDIR $DIR/two\n";
        let df = parse("Dockerfile", text).unwrap();
        let b = resolve(&df, &[]).unwrap();
        assert_eq!(workdir(&b, 1), "/one/two");
    }

    #[test]
    fn copy_from_binding() {
        let b = build(
            "FROM a AS one\nFROM b\nCOPY --from=ONE x y\nCOPY --from=0 x y\nCOPY --from=c:1 x y\n",
            &[],
        )
        .unwrap();
        let froms: Vec<_> = b.stages[1]
            .instructions
            .iter()
            .filter_map(|i| match &i.command {
                Command::Copy(c) => Some(c.from.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            froms[0],
            CopyFrom::Stage {
                index: 0,
                name: Some("one".into())
            }
        );
        assert_eq!(
            froms[1],
            CopyFrom::Stage {
                index: 0,
                name: Some("one".into())
            }
        );
        assert_eq!(
            froms[2],
            CopyFrom::Image {
                reference: "c:1".into()
            }
        );
        let e = build("FROM a AS s\nCOPY --from=s x y\n", &[]).unwrap_err();
        assert_eq!(e.message, "circular dependency detected on stage: s");
        assert_eq!((e.pos.line, e.pos.column), (2, 6));
        let e = build("FROM a\nCOPY --from=0 x y\n", &[]).unwrap_err();
        assert!(e.message.contains("circular dependency"), "{}", e.message);
    }

    #[test]
    fn maintainer_becomes_a_label_and_ports_are_normalised() {
        let b = build("FROM a\nMAINTAINER Ana\nARG P=80\nEXPOSE $P 53/UDP\n", &[]).unwrap();
        let commands: Vec<_> = b.stages[0]
            .instructions
            .iter()
            .map(|i| &i.command)
            .collect();
        let Command::Label(label) = commands[1] else {
            panic!()
        };
        assert_eq!(
            label.pairs[0],
            KeyValue {
                key: "maintainer".into(),
                value: "Ana".into()
            }
        );
        let Command::Expose(expose) = commands[3] else {
            panic!()
        };
        assert_eq!(expose.ports, ["80/tcp", "53/udp"]);
        let e = build("FROM a\nARG P=x\nEXPOSE $P\n", &[]).unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (3, 8));
    }
}
