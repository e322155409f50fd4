//! `docker exec`: another process in a running container. The daemon keeps each exec's
//! record in memory (as Docker does), and runs the process through a helper,
//! `baleia exec-process`, which joins the container's namespaces and cgroups (chapters 01
//! and 02) and applies the exec's environment, working directory and user. Its output comes
//! back over pipes and is framed onto the hijacked connection, like `attach`.
//!
//! Unlike a container, an exec belongs to the daemon: it ends with it (Docker's do too).

use super::record::{read_json, Dir};
use super::spec::resolve_user;
use super::{ApiError, ApiResult, Engine};
use baleia_wire::api;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, PoisonError};

/// What an exec runs: the body of `POST /containers/{id}/exec` ([`api::ExecConfig`]), the
/// fields baleia honours.
#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub env: Option<Vec<String>>,
    pub user: String,
    pub working_dir: String,
    pub tty: bool,
    pub attach_stdin: bool,
    /// The terminal's first size, `[rows, columns]` (docker's CLI sends it, API 1.42+).
    pub console_size: Option<[u16; 2]>,
}

impl ExecConfig {
    /// Docker's request → ours; what baleia would not honour is refused, naming the field.
    pub fn from_api(body: api::ExecConfig) -> ApiResult<ExecConfig> {
        if body.privileged == Some(true) {
            return Err(ApiError::bad_request(
                "Privileged is not supported by baleia for exec (the container's capabilities apply)",
            ));
        }
        let console_size = match body.console_size.as_deref() {
            None => None,
            Some(&[rows, columns]) => Some([rows, columns].map(|n| u16::try_from(n).unwrap_or(0))),
            Some(_) => return Err(ApiError::bad_request("ConsoleSize: want [rows, columns]")),
        };
        Ok(ExecConfig {
            cmd: body.cmd.unwrap_or_default(),
            env: body.env,
            user: body.user.unwrap_or_default(),
            working_dir: body.working_dir.unwrap_or_default(),
            tty: body.tty.unwrap_or_default(),
            attach_stdin: body.attach_stdin.unwrap_or_default(),
            console_size,
        })
    }

    /// `exec_start: sh -c ...`: how Docker's exec events name the command.
    fn event(&self, action: &str) -> String {
        format!("{action}: {}", self.cmd.join(" "))
    }
}

/// One exec, as `GET /exec/{id}/json` shows it.
#[derive(Debug, Clone)]
pub struct Exec {
    pub id: String,
    pub container: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: u32,
}

impl Engine {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, container: &str, config: ExecConfig) -> ApiResult<String> {
        let found = self.find(container)?;
        if !found.running() {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                found.id()
            )));
        }
        if super::pause::is_paused(&found) {
            return Err(ApiError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                found.id()
            )));
        }
        if config.cmd.is_empty() {
            return Err(ApiError::bad_request("No exec command specified"));
        }
        let id = ch03_overlayfs::dirs::random_id().map_err(ApiError::internal)?;
        let exec = Exec {
            id: id.clone(),
            container: found.id().to_string(),
            config,
            running: false,
            exit_code: None,
            pid: 0,
        };
        let action = exec.config.event("exec_create");
        self.execs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), exec);
        self.container_event(&action, &found.record, json!({ "execID": id }));
        Ok(id)
    }

    fn exec_get(&self, id: &str) -> ApiResult<Exec> {
        self.execs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> ApiResult<Value> {
        let e = self.exec_get(id)?;
        Ok(json!({
            "ID": e.id,
            "Running": e.running,
            "ExitCode": e.exit_code,
            "ProcessConfig": {
                "tty": e.config.tty,
                "entrypoint": e.config.cmd[0],
                "arguments": e.config.cmd[1..],
                "privileged": false,
                "user": e.config.user,
            },
            "OpenStdin": false,
            "OpenStderr": true,
            "OpenStdout": true,
            "CanRemove": false,
            "ContainerID": e.container,
            "DetachKeys": "",
            "Pid": e.pid,
        }))
    }

    /// `POST /exec/{id}/start`: start the helper; `out` receives the output (`None` for a
    /// detached exec), as it comes when `raw`, else in stdout/stderr frames. Returns once the
    /// exec has ended (or at once when detached).
    pub fn exec_start(
        self: &Arc<Self>,
        id: &str,
        out: Option<&mut dyn Write>,
        client: Option<std::io::BufReader<std::os::unix::net::UnixStream>>,
        raw: bool,
    ) -> ApiResult<Option<std::thread::JoinHandle<()>>> {
        let exec = self.exec_get(id)?;
        if exec.exit_code.is_some() || exec.running {
            return Err(ApiError::conflict(format!("exec {id} has already run")));
        }
        let found = self.find(&exec.container)?;
        if !found.running() {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                found.id()
            )));
        }
        let mut command = self.exec_command(&found.dir, found.state.pid, &exec.config)?;
        let mut child = command
            .stdin(if exec.config.attach_stdin && client.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(ApiError::internal)?;
        self.update_exec(id, |e| {
            e.running = true;
            e.pid = child.id();
        });
        let action = exec.config.event("exec_start");
        self.container_event(&action, &found.record, json!({ "execID": id }));
        if let (Some(mut input), Some(mut client)) = (child.stdin.take(), client) {
            // What the client sends, to the process; its end closes the process's input.
            std::thread::spawn(move || crate::stdin::pump(&mut client, &mut input));
        }
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let engine = self.clone();
        let id = id.to_string();
        let record = found.record.clone();
        let finish = move |child: &mut std::process::Child| {
            let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(126);
            engine.update_exec(&id, |e| {
                e.running = false;
                e.exit_code = Some(code);
            });
            let attributes = json!({ "execID": id, "exitCode": code.to_string() });
            engine.container_event("exec_die", &record, attributes);
        };
        // Both pipes are read by threads that hand their chunks to this one, which alone
        // writes to the connection (the stream cannot be shared between threads).
        let (frames, received) = std::sync::mpsc::channel::<(u8, Vec<u8>)>();
        for (stream, pipe) in [
            (1u8, stdout.map(|p| Box::new(p) as Box<dyn Read + Send>)),
            (2u8, stderr.map(|p| Box::new(p) as Box<dyn Read + Send>)),
        ] {
            let Some(mut pipe) = pipe else { continue };
            let frames = frames.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buffer) {
                    if n == 0 || frames.send((stream, buffer[..n].to_vec())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(frames);
        match out {
            None => Ok(Some(std::thread::spawn(move || {
                for _ in received {}
                finish(&mut child);
            }))),
            Some(out) => {
                for (stream, chunk) in received {
                    let bytes = if raw {
                        chunk
                    } else {
                        crate::logs::frame(stream, &chunk)
                    };
                    let _ = out.write_all(&bytes).and_then(|()| out.flush());
                }
                finish(&mut child);
                Ok(None)
            }
        }
    }

    fn update_exec(&self, id: &str, change: impl FnOnce(&mut Exec)) {
        if let Some(exec) = self
            .execs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            change(exec);
        }
    }

    /// `baleia exec-process --target PID ... -- CMD`: the container's environment with the
    /// exec's over it, the exec's (or the container's) working directory and user.
    fn exec_command(&self, dir: &Dir, pid: i32, config: &ExecConfig) -> ApiResult<Command> {
        let spec: Spec = read_json(&dir.spec())?;
        let process = spec.process().clone().unwrap_or_default();
        let lowers: Vec<std::path::PathBuf> = std::fs::read_to_string(dir.0.join("lowers"))
            .unwrap_or_default()
            .lines()
            .map(Into::into)
            .collect();
        let (uid, gid, home) = if config.user.is_empty() {
            (process.user().uid(), process.user().gid(), None)
        } else {
            let identity = resolve_user(&lowers, &config.user)?;
            (identity.uid, identity.gid, Some(identity.home))
        };
        let mut env = process.env().clone().unwrap_or_default();
        for pair in config
            .env
            .iter()
            .flatten()
            .chain(home.map(|h| format!("HOME={h}")).iter())
        {
            let key = pair.split('=').next().unwrap_or_default();
            env.retain(|p| p.split('=').next() != Some(key));
            env.push(pair.clone());
        }
        let cwd = match config.working_dir.as_str() {
            "" => process.cwd().to_string_lossy().into_owned(),
            mine => mine.to_string(),
        };
        let mut command = Command::new(&self.exe);
        if ch01_namespaces::explain::enabled() {
            command.arg("--explain");
        }
        command.args([
            "exec-process",
            "--target",
            &pid.to_string(),
            "--uid",
            &uid.to_string(),
            "--gid",
            &gid.to_string(),
            "--cwd",
            &cwd,
        ]);
        if config.tty {
            command.arg("--tty");
            if let Some([rows, cols]) = config.console_size.filter(|[r, c]| *r > 0 && *c > 0) {
                command.arg(format!("--console-size={rows}x{cols}"));
            }
        }
        // The container's capabilities, no_new_privs and seccomp filter apply to exec too.
        command.arg("--bundle").arg(&dir.0);
        for pair in env {
            command.arg("--env").arg(pair);
        }
        command.arg("--").args(&config.cmd);
        Ok(command)
    }
}
