//! `baleia attach`: join a running container's standard streams, as `docker attach` does:
//! its output from now on, our input to it (when it keeps its input open), our terminal's size
//! and raw mode when it has a terminal, and the detach keys to leave it running. The exit code
//! is the container's, once it ends.

use crate::client::Client;
use anyhow::{bail, Result};

#[derive(clap::Args)]
pub struct AttachFlags {
    /// Do not send our standard input.
    #[arg(long)]
    pub no_stdin: bool,
    /// The keys that detach from the container and leave it running.
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Without a terminal: send the signals the client receives to the container
    /// (`=false`: not).
    #[arg(long, value_name = "BOOL", default_value = "true", num_args = 0..=1,
          require_equals = true, default_missing_value = "true",
          value_parser = crate::cli_signals::parse_switch)]
    pub sig_proxy: bool,
    pub container: String,
}

pub fn attach(client: &Client, flags: &AttachFlags) -> Result<i32> {
    let found = client.call(
        "GET",
        &format!(
            "/containers/{}/json",
            crate::client::encode(&flags.container)
        ),
        None,
    )?;
    let id = found["Id"].as_str().unwrap_or_default().to_string();
    if found["State"]["Running"] != true {
        bail!("You cannot attach to a stopped container, start it first (baleia start {id:.12})");
    }
    let tty = found["Config"]["Tty"] == true;
    let stdin = !flags.no_stdin && found["Config"]["OpenStdin"] == true;
    let mut attach = client
        .request(
            "POST",
            &format!(
                "/containers/{id}/attach?stream=1&stdout=1&stderr=1&stdin={}",
                stdin as u8
            ),
            None,
            true,
        )?
        .success()?;
    // Asked before the stream ends, so a container that ends at once still gives its code.
    let wait = client.request(
        "POST",
        &format!("/containers/{id}/wait?condition=next-exit"),
        None,
        false,
    )?;
    if flags.sig_proxy && !tty {
        crate::cli_signals::forward(client, &id)?;
    }
    // Raw mode before anything reads our input: a shell's first question to the terminal
    // (where is the cursor?) must not wait in a line buffer for an Enter.
    let _raw = (tty && stdin)
        .then(crate::terminal::RawMode::enable)
        .flatten();
    let resize = format!("/containers/{id}/resize");
    let keys = flags.detach_keys.as_deref();
    if crate::client_terminal::attached_session(client, &mut attach, (tty, stdin), keys, &resize)? {
        return Ok(0);
    }
    let status = wait.json()?;
    Ok(status["StatusCode"].as_i64().unwrap_or(125) as i32)
}
