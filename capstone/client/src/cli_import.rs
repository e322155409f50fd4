//! `baleia import`: a root file system tar becomes a one-layer image
//! (`POST /images/create?fromSrc=-`).

use crate::client::{encode, Client};
use anyhow::{bail, Result};
use serde_json::Value;

/// `import FILE|- [REPOSITORY[:TAG]] [-c CHANGE] [-m MESSAGE]`.
pub fn import(
    client: &Client,
    file: &str,
    reference: Option<&str>,
    changes: &[String],
    message: Option<&str>,
) -> Result<i32> {
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
    // The file is read as it is sent: a rootfs of gigabytes passes through in pieces.
    let reply = client.send_file("POST", &path, std::path::Path::new(file))?;
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
