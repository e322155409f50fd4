//! Instructions that change only the image's configuration: ENV, CMD, ENTRYPOINT, LABEL,
//! MAINTAINER, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD.
//!
//! The OCI image config (`oci_spec::image::Config`) has no field for HEALTHCHECK, SHELL and
//! ONBUILD; Docker keeps them in the config under `Healthcheck`, `Shell` and `OnBuild`, and so
//! do we: [`Extras`] holds them beside the typed config and they are merged into the JSON that
//! is stored.

use crate::ast::{Command, CommandLine, Healthcheck};
use oci_spec::image::ImageConfiguration;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The Docker-only keys of the config's `config` object.
pub type Extras = Map<String, Value>;

/// Docker's default shell for the shell form.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// The shell in effect (SHELL, else `/bin/sh -c`).
pub fn shell(extras: &Extras) -> Vec<String> {
    extras
        .get("Shell")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(default_shell)
}

/// A command line as argv: the exec form as it is, the shell form through the shell.
pub fn argv(command: &CommandLine, extras: &Extras) -> Vec<String> {
    match command {
        CommandLine::Exec { argv } => argv.clone(),
        CommandLine::Shell { text } => {
            let mut argv = shell(extras);
            argv.push(text.clone());
            argv
        }
    }
}

/// Apply one configuration instruction. Returns false if `command` is not one.
pub fn apply(command: &Command, config: &mut ImageConfiguration, extras: &mut Extras) -> bool {
    let mut run = config.config().clone().unwrap_or_default();
    match command {
        Command::Env(env) => {
            let mut list = run.env().clone().unwrap_or_default();
            for pair in &env.pairs {
                list.retain(|e| e.split('=').next() != Some(pair.key.as_str()));
                list.push(format!("{}={}", pair.key, pair.value));
            }
            run.set_env(Some(list));
        }
        Command::Cmd(cmd) => {
            run.set_cmd(Some(argv(&cmd.command, extras)));
        }
        Command::Entrypoint(entrypoint) => {
            let argv = argv(&entrypoint.command, extras);
            run.set_entrypoint((!argv.is_empty()).then_some(argv));
            // Docker: a new ENTRYPOINT drops a CMD inherited from the base image or set before.
            run.set_cmd(None);
        }
        Command::Label(labels) => {
            let mut map: HashMap<String, String> = run.labels().clone().unwrap_or_default();
            for pair in &labels.pairs {
                map.insert(pair.key.clone(), pair.value.clone());
            }
            run.set_labels(Some(map));
        }
        Command::Maintainer(maintainer) => {
            let mut map = run.labels().clone().unwrap_or_default();
            map.insert("maintainer".into(), maintainer.name.clone());
            run.set_labels(Some(map));
            config.set_author(Some(maintainer.name.clone()));
        }
        Command::Expose(expose) => {
            let mut ports = run.exposed_ports().clone().unwrap_or_default();
            for port in &expose.ports {
                if !ports.contains(port) {
                    ports.push(port.clone());
                }
            }
            run.set_exposed_ports(Some(ports));
        }
        Command::Volume(volume) => {
            let mut volumes = run.volumes().clone().unwrap_or_default();
            for path in &volume.paths {
                if !volumes.contains(path) {
                    volumes.push(path.clone());
                }
            }
            run.set_volumes(Some(volumes));
        }
        Command::Workdir(workdir) => {
            let dir = if workdir.path.starts_with('/') {
                workdir.path.clone()
            } else {
                let base = run.working_dir().clone().unwrap_or_else(|| "/".into());
                format!("{}/{}", base.trim_end_matches('/'), workdir.path)
            };
            run.set_working_dir(Some(crate::dockerignore::clean(&dir)).map(|d| format!("/{d}")));
        }
        Command::User(user) => {
            run.set_user(Some(user.user.clone()));
        }
        Command::Stopsignal(signal) => {
            run.set_stop_signal(Some(signal.signal.clone()));
        }
        Command::Healthcheck(check) => {
            extras.insert("Healthcheck".into(), healthcheck_json(check, extras));
        }
        Command::Shell(shell) => {
            extras.insert("Shell".into(), json!(shell.shell));
        }
        Command::Onbuild(onbuild) => {
            let list = extras.entry("OnBuild").or_insert_with(|| json!([]));
            if let Value::Array(items) = list {
                items.push(json!(onbuild.trigger));
            }
        }
        _ => return false,
    }
    config.set_config(Some(run));
    true
}

/// Docker's `Healthcheck` object: `Test` is `["NONE"]`, `["CMD", argv...]` or
/// `["CMD-SHELL", text]`; durations in nanoseconds.
fn healthcheck_json(check: &Healthcheck, _extras: &Extras) -> Value {
    let test = match (&check.command, check.disable) {
        (_, true) | (None, _) => json!(["NONE"]),
        (Some(CommandLine::Exec { argv }), _) => {
            let mut test = vec!["CMD".to_string()];
            test.extend(argv.iter().cloned());
            json!(test)
        }
        (Some(CommandLine::Shell { text }), _) => json!(["CMD-SHELL", text]),
    };
    let mut object = Map::new();
    object.insert("Test".into(), test);
    for (key, value) in [
        ("Interval", &check.interval),
        ("Timeout", &check.timeout),
        ("StartPeriod", &check.start_period),
        ("StartInterval", &check.start_interval),
    ] {
        if let Some(duration) = value {
            object.insert(key.into(), json!(duration.nanoseconds));
        }
    }
    if let Some(retries) = check.retries {
        object.insert("Retries".into(), json!(retries));
    }
    Value::Object(object)
}

/// The config as stored: the typed config, with the extras merged into its `config` object.
pub fn to_json(config: &ImageConfiguration, extras: &Extras) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or(Value::Null);
    if !extras.is_empty() {
        if let Some(object) = value.as_object_mut() {
            let run = object.entry("config").or_insert_with(|| json!({}));
            if let Some(run) = run.as_object_mut() {
                for (key, extra) in extras {
                    run.insert(key.clone(), extra.clone());
                }
            }
        }
    }
    value
}

/// The extras of a stored config.
pub fn extras_of(raw_config: &Value) -> Extras {
    let mut extras = Map::new();
    if let Some(run) = raw_config.get("config").and_then(Value::as_object) {
        for key in ["Healthcheck", "Shell", "OnBuild"] {
            if let Some(value) = run.get(key) {
                extras.insert(key.into(), value.clone());
            }
        }
    }
    extras
}
