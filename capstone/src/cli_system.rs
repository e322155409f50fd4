//! `baleia events`, `system df`, `system prune`, `container prune`, `image prune`, `login`,
//! `import`: the client side of the engine's system calls.

use crate::client::{encode, Client};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, Write};

/// `--since`/`--until`: unix seconds (`1700000000`, `1700000000.5`), or a duration back from
/// now (`10m`, `1h30m`, `45s`), as the docker CLI accepts them; sent as seconds.
pub fn timestamp(text: &str) -> Result<String> {
    if text.parse::<f64>().is_ok() {
        return Ok(text.to_string());
    }
    let mut total = 0f64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number
            .parse()
            .with_context(|| format!("{text}: not a timestamp or duration"))?;
        number.clear();
        total += value
            * match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                _ => bail!("{text}: unknown unit {c:?} (s, m, h)"),
            };
    }
    if !number.is_empty() {
        bail!("{text}: a duration needs a unit (s, m, h)");
    }
    let now = crate::time::now_nanos() as f64 / 1e9;
    Ok(format!("{:.9}", now - total))
}

/// `--filter key=value`, repeated → Docker's `{"key": ["value", …]}`.
pub fn filters_json(filters: &[String]) -> Result<String> {
    let mut map = serde_json::Map::new();
    for filter in filters {
        let (key, value) = filter
            .split_once('=')
            .with_context(|| format!("bad format of filter (expected name=value): {filter}"))?;
        map.entry(key.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(json!(value));
    }
    Ok(Value::Object(map).to_string())
}

/// One event as `docker events` prints it.
fn event_line(event: &Value) -> String {
    let time = crate::time::rfc3339_nanos(event["timeNano"].as_i64().unwrap_or(0));
    let mut attributes: Vec<String> = event["Actor"]["Attributes"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    attributes.sort();
    format!(
        "{time} {} {} {} ({})",
        event["Type"].as_str().unwrap_or_default(),
        event["Action"].as_str().unwrap_or_default(),
        event["Actor"]["ID"].as_str().unwrap_or_default(),
        attributes.join(", ")
    )
}

pub fn events(
    client: &Client,
    since: Option<&str>,
    until: Option<&str>,
    filters: &[String],
) -> Result<i32> {
    let mut path = String::from("/events?");
    if let Some(since) = since {
        path.push_str(&format!("since={}&", encode(&timestamp(since)?)));
    }
    if let Some(until) = until {
        path.push_str(&format!("until={}&", encode(&timestamp(until)?)));
    }
    if !filters.is_empty() {
        path.push_str(&format!("filters={}", encode(&filters_json(filters)?)));
    }
    let reply = client.request("GET", &path, None, false)?;
    if reply.status >= 400 {
        reply.json()?;
        return Ok(1);
    }
    let mut reader = reply.reader;
    let mut line = String::new();
    let mut out = std::io::stdout();
    while reader.read_line(&mut line)? > 0 {
        if let Ok(event) = serde_json::from_str::<Value>(line.trim()) {
            writeln!(out, "{}", event_line(&event))?;
            out.flush()?;
        }
        line.clear();
    }
    Ok(0)
}

fn size(bytes: u64) -> String {
    ch04_images::report::human_size(bytes).replace(' ', "")
}

/// `system df`: Docker's table of what takes disk space and what could be reclaimed.
pub fn df(client: &Client) -> Result<i32> {
    let df = client.call("GET", "/system/df", None)?;
    let list = |key: &str| df[key].as_array().cloned().unwrap_or_default();
    let num = |v: &Value, key: &str| v[key].as_i64().unwrap_or(0).max(0) as u64;
    let images = list("Images");
    let active_images: Vec<&Value> = images.iter().filter(|i| num(i, "Containers") > 0).collect();
    let images_size = num(&df, "LayersSize");
    let active_size: u64 = active_images.iter().map(|i| num(i, "Size")).sum();
    let containers = list("Containers");
    let running = containers
        .iter()
        .filter(|c| c["State"] == "running")
        .count();
    let containers_size: u64 = containers.iter().map(|c| num(c, "SizeRw")).sum();
    let stopped_size: u64 = containers
        .iter()
        .filter(|c| c["State"] != "running")
        .map(|c| num(c, "SizeRw"))
        .sum();
    let volumes = list("Volumes");
    let used = |v: &&Value| v["UsageData"]["RefCount"].as_i64().unwrap_or(0) > 0;
    let volumes_size: u64 = volumes.iter().map(|v| num(&v["UsageData"], "Size")).sum();
    let unused_volumes: u64 = volumes
        .iter()
        .filter(|v| !used(v))
        .map(|v| num(&v["UsageData"], "Size"))
        .sum();
    let percent =
        |part: u64, whole: u64| format!("{}%", (part * 100).checked_div(whole).unwrap_or(0));
    let reclaimable = images_size.saturating_sub(active_size);
    let rows = vec![
        vec![
            "Images".into(),
            images.len().to_string(),
            active_images.len().to_string(),
            size(images_size),
            format!(
                "{} ({})",
                size(reclaimable),
                percent(reclaimable, images_size)
            ),
        ],
        vec![
            "Containers".into(),
            containers.len().to_string(),
            running.to_string(),
            size(containers_size),
            format!(
                "{} ({})",
                size(stopped_size),
                percent(stopped_size, containers_size)
            ),
        ],
        vec![
            "Local Volumes".into(),
            volumes.len().to_string(),
            volumes.iter().filter(used).count().to_string(),
            size(volumes_size),
            format!(
                "{} ({})",
                size(unused_volumes),
                percent(unused_volumes, volumes_size)
            ),
        ],
        vec![
            "Build Cache".into(),
            "0".into(),
            "0".into(),
            "0B".into(),
            "0B".into(),
        ],
    ];
    print!(
        "{}",
        ch04_images::report::table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows)
    );
    Ok(0)
}

/// Docker's question before a prune, unless `-f`.
fn confirm(warning: &str, force: bool) -> Result<bool> {
    if force {
        return Ok(true);
    }
    print!("WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Call one prune; print what it deleted under `title`; the space it reclaimed.
fn prune_one(client: &Client, path: &str, key: &str, title: &str) -> Result<u64> {
    let reply = client.call("POST", path, None)?;
    let deleted = reply[key].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("{title}:");
        for entry in &deleted {
            match entry {
                Value::String(s) => println!("{s}"),
                Value::Object(map) => {
                    for (k, v) in map {
                        println!("{}: {}", k.to_lowercase(), v.as_str().unwrap_or_default());
                    }
                }
                _ => {}
            }
        }
        println!();
    }
    Ok(reply["SpaceReclaimed"].as_u64().unwrap_or(0))
}

/// `container prune`, `image prune [-a]`, `system prune [-a] [--volumes]`.
pub fn prune(client: &Client, what: &str, all: bool, volumes: bool, force: bool) -> Result<i32> {
    let warning = match what {
        "container" => "This will remove all stopped containers.".to_string(),
        "image" if all => "This will remove all images without at least one container associated to them.".into(),
        "image" => "This will remove all dangling images.".into(),
        _ => format!(
            "This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n{}  - all {} images\n",
            if volumes { "  - all anonymous volumes not used by at least one container\n" } else { "" },
            if all { "images without at least one container associated to them" } else { "dangling" },
        ),
    };
    if !confirm(&warning, force)? {
        return Ok(0);
    }
    let images_path = if all {
        format!(
            "/images/prune?filters={}",
            encode(r#"{"dangling":["false"]}"#)
        )
    } else {
        "/images/prune".to_string()
    };
    let mut reclaimed = 0;
    if what != "image" {
        reclaimed += prune_one(
            client,
            "/containers/prune",
            "ContainersDeleted",
            "Deleted Containers",
        )?;
    }
    if what == "system" {
        prune_one(
            client,
            "/networks/prune",
            "NetworksDeleted",
            "Deleted Networks",
        )?;
        if volumes {
            reclaimed += prune_one(
                client,
                "/volumes/prune",
                "VolumesDeleted",
                "Deleted Volumes",
            )?;
        }
    }
    if what != "container" {
        reclaimed += prune_one(client, &images_path, "ImagesDeleted", "Deleted Images")?;
    }
    println!("Total reclaimed space: {}", size(reclaimed));
    Ok(0)
}

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

/// `import FILE|- [REPOSITORY[:TAG]] [-c CHANGE] [-m MESSAGE]`.
pub fn import(
    client: &Client,
    file: &str,
    reference: Option<&str>,
    changes: &[String],
    message: Option<&str>,
) -> Result<i32> {
    let tar = if file == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        bytes
    } else {
        std::fs::read(file).with_context(|| format!("read {file}"))?
    };
    let mut path = String::from("/images/create?fromSrc=-");
    if let Some(reference) = reference {
        let normal = ch04_images::reference::normalize(reference)?;
        let (repo, tag) = ch04_images::reference::split(&normal);
        path.push_str(&format!("&repo={}&tag={}", encode(repo), encode(tag)));
    }
    for change in changes {
        path.push_str(&format!("&changes={}", encode(change)));
    }
    if let Some(message) = message {
        path.push_str(&format!("&message={}", encode(message)));
    }
    let reply = client.request_bytes("POST", &path, &tar)?;
    let status = reply.status;
    let body = reply.body()?;
    let text = String::from_utf8_lossy(&body);
    if status >= 400 {
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        bail!(
            "Error response from daemon: {}",
            v["message"].as_str().unwrap_or(&text)
        );
    }
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_default();
        if let Some(id) = v["status"].as_str() {
            println!("{id}");
        }
    }
    Ok(0)
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

#[cfg(test)]
mod tests {
    #[test]
    fn durations_and_filters() {
        assert_eq!(super::timestamp("1700000000").unwrap(), "1700000000");
        let ago: f64 = super::timestamp("1m30s").unwrap().parse().unwrap();
        let now = crate::time::now_nanos() as f64 / 1e9;
        assert!((now - ago - 90.0).abs() < 5.0);
        assert!(super::timestamp("10x").is_err());
        assert_eq!(
            super::filters_json(&["type=container".into(), "event=start".into()]).unwrap(),
            r#"{"event":["start"],"type":["container"]}"#
        );
    }
}
