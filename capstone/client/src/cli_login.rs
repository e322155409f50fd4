//! `baleia login` and the credentials it stores: the daemon checks them (`POST /auth`), the
//! client keeps them in docker's config file and sends them with pulls and pushes.

use crate::client::Client;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::Write;

/// Where the client keeps registry credentials: docker's own file (`$DOCKER_CONFIG/config.json`
/// or `~/.docker/config.json`), so `docker` and `baleia` share their logins.
pub fn config_path() -> std::path::PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => std::path::PathBuf::from(dir).join("config.json"),
        None => {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker/config.json")
        }
    }
}

/// `login [-u USER] [--password-stdin] SERVER`: the daemon checks the credentials against the
/// registry (`POST /auth`); if they work, they go into the client's config as docker stores
/// them: `{"auths": {"SERVER": {"auth": base64("user:password")}}}`.
pub fn login(
    client: &Client,
    server: &str,
    user: Option<&str>,
    password_stdin: bool,
) -> Result<i32> {
    use base64::Engine as _;
    let user = match user {
        Some(u) => u.to_string(),
        None => bail!("login needs -u USER (baleia does not prompt)"),
    };
    if !password_stdin {
        bail!("login needs --password-stdin (a password on the command line ends up in the shell's history)");
    }
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    let body = json!({ "username": user, "password": password, "serveraddress": server });
    let reply = client.call("POST", "/auth", Some(&body))?;
    let path = config_path();
    let mut config: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if !config["auths"].is_object() {
        config["auths"] = json!({});
    }
    config["auths"][server] = json!({ "auth": auth });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    write_private(&path, serde_json::to_string_pretty(&config)?.as_bytes())?;
    println!("{}", reply["Status"].as_str().unwrap_or("Login Succeeded"));
    Ok(0)
}

/// Write a file only its owner can read (it holds passwords).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// `X-Registry-Auth` for a pull or push, from what `login` stored for the image's registry
/// (the first part of its name when it has a `.` or `:`, or is `localhost`): base64url JSON,
/// as the docker CLI sends it. `None` for other calls, or without a login.
pub fn registry_auth(path: &str) -> Option<String> {
    use base64::Engine as _;
    let name = if let Some(query) = path.strip_prefix("/images/create?") {
        let image = query
            .split('&')
            .find_map(|p| p.strip_prefix("fromImage="))?;
        crate::http::percent_decode(image)
    } else {
        let rest = path.strip_prefix("/images/")?;
        let name = rest.split('?').next()?.strip_suffix("/push")?;
        crate::http::percent_decode(name)
    };
    let first = name.split('/').next()?;
    if !name.contains('/') || !(first.contains('.') || first.contains(':') || first == "localhost")
    {
        return None;
    }
    let config: Value = serde_json::from_slice(&std::fs::read(config_path()).ok()?).ok()?;
    let encoded = config["auths"][first]["auth"].as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let json = json!({ "username": user, "password": password, "serveraddress": first });
    Some(base64::engine::general_purpose::URL_SAFE.encode(json.to_string()))
}

/// `X-Registry-Config` for a build: every stored login, as base64url JSON
/// (`{"registry": {"username", "password", "serveraddress"}}`), for the FROM images the daemon
/// may have to pull. `None` without logins.
pub fn registry_config() -> Option<String> {
    use base64::Engine as _;
    let config: Value = serde_json::from_slice(&std::fs::read(config_path()).ok()?).ok()?;
    let mut out = serde_json::Map::new();
    for (server, entry) in config["auths"].as_object()? {
        let Some(encoded) = entry["auth"].as_str() else {
            continue;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            continue;
        };
        let text = String::from_utf8_lossy(&decoded).into_owned();
        if let Some((user, password)) = text.split_once(':') {
            out.insert(
                server.clone(),
                json!({ "username": user, "password": password, "serveraddress": server }),
            );
        }
    }
    if out.is_empty() {
        return None;
    }
    let text = Value::Object(out).to_string();
    Some(base64::engine::general_purpose::URL_SAFE.encode(text))
}
