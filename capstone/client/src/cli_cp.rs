//! `baleia cp CONTAINER:SRC DEST` and `baleia cp SRC CONTAINER:DEST`, as the docker CLI does
//! them: a tar both ways through `/containers/{id}/archive`. The daemon resolves container
//! paths (symlink-safe, chapter 03); the client only handles the host side.
//!
//! Out: the daemon's tar names its entries from SRC's last name; unpacked into DEST if DEST is
//! a directory, else under DEST's name. In: `HEAD` says whether DEST is a directory in the
//! container; if so the tar goes inside it, else into DEST's parent under DEST's name.

use crate::client::{encode, Client};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// `CONTAINER:PATH` → (container, path); a host path (with `/` or `.` first) → `None`.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (container, path) = arg.split_once(':')?;
    (!container.is_empty()).then_some((container, path))
}

pub fn cp(client: &Client, src: &str, dest: &str) -> Result<i32> {
    match (split_container(src), split_container(dest)) {
        (Some((container, path)), None) => copy_out(client, container, path, Path::new(dest)),
        (None, Some((container, path))) => copy_in(client, Path::new(src), container, path),
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
}

fn archive_path(container: &str, path: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    format!(
        "/containers/{}/archive?path={}",
        encode(container),
        encode(path)
    )
}

fn copy_out(client: &Client, container: &str, path: &str, dest: &Path) -> Result<i32> {
    let reply = client.request("GET", &archive_path(container, path), None, false)?;
    if reply.status >= 400 {
        reply.json()?;
        return Ok(1);
    }
    let (dir, rename) = if dest.is_dir() {
        (dest.to_path_buf(), None)
    } else {
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .with_context(|| format!("{}: no file name", dest.display()))?;
        (parent, Some(name.to_os_string()))
    };
    // Unpacked as it arrives; a tar cut short (the daemon failed half-way) is an error.
    let mut archive = tar::Archive::new(reply.reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let target = match &rename {
            // The first name is SRC's: it becomes DEST's.
            Some(name) => {
                let mut parts = path
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)));
                parts.next();
                let mut renamed = PathBuf::from(name);
                renamed.extend(parts);
                renamed
            }
            None => path,
        };
        entry.set_preserve_mtime(true);
        unpack_at(&mut entry, &dir, &target)?;
    }
    Ok(0)
}

/// Unpack one entry at `dir/target`, refusing to leave `dir`.
fn unpack_at<R: Read>(entry: &mut tar::Entry<R>, dir: &Path, target: &Path) -> Result<()> {
    if target
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        bail!(
            "{}: refusing a path that leaves {}",
            target.display(),
            dir.display()
        );
    }
    // No name on the way may be a symlink (one an earlier entry made, say): we would
    // write wherever it points.
    let mut on_the_way = dir.to_path_buf();
    for part in target.parent().into_iter().flat_map(|p| p.components()) {
        on_the_way.push(part);
        match std::fs::symlink_metadata(&on_the_way) {
            Ok(meta) if meta.file_type().is_symlink() => {
                bail!(
                    "{}: refusing to write through a symlink",
                    on_the_way.display()
                )
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir_all(&on_the_way)
                .with_context(|| format!("create {}", on_the_way.display()))?,
        }
    }
    let full = dir.join(target);
    // Replacing a file or symlink: remove it first, so nothing is written through a link.
    if let Ok(meta) = std::fs::symlink_metadata(&full) {
        if !meta.is_dir() {
            std::fs::remove_file(&full).with_context(|| format!("remove {}", full.display()))?;
        }
    }
    entry
        .unpack(&full)
        .with_context(|| format!("write {}", full.display()))?;
    Ok(())
}

fn copy_in(client: &Client, src: &Path, container: &str, path: &str) -> Result<i32> {
    let meta =
        std::fs::symlink_metadata(src).with_context(|| format!("lstat {}", src.display()))?;
    let stat = client.request("HEAD", &archive_path(container, path), None, false)?;
    let is_dir = stat.status == 200 && {
        // The stat header says; a HEAD reply has no body to read.
        stat_is_dir(&stat)
    };
    let (dir, name) = if is_dir || path.ends_with('/') {
        let name = src
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_os_string()))
            .with_context(|| format!("{}: no file name", src.display()))?;
        (path.to_string(), name)
    } else {
        let target = Path::new(path);
        let parent = target
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let name = target
            .file_name()
            .with_context(|| format!("{path}: no file name"))?
            .to_os_string();
        (parent, name)
    };
    // The tar is made as it is sent.
    let reply = client.request_streamed("PUT", &archive_path(container, &dir), &mut |out| {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        if meta.is_dir() {
            builder.append_dir_all(&name, src)?;
        } else {
            builder.append_path_with_name(src, &name)?;
        }
        builder.into_inner()?.flush()
    })?;
    reply.json()?;
    Ok(0)
}

/// `baleia export CONTAINER [-o FILE]`: the container's file system as a tar, written as it
/// arrives (to standard output without `-o`, which a terminal would not survive: refused).
pub fn export(client: &Client, container: &str, output: Option<&Path>) -> Result<i32> {
    use std::io::IsTerminal;
    if output.is_none() && std::io::stdout().is_terminal() {
        bail!("refusing to write a tar to a terminal: use -o FILE or redirect the output");
    }
    let path = format!("/containers/{}/export", encode(container));
    let mut reply = client.request("GET", &path, None, false)?;
    if reply.status >= 400 {
        reply.json()?;
        return Ok(1);
    }
    match output {
        Some(file) => reply.save_to(file)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            std::io::copy(&mut reply.reader, &mut stdout).context("write the tar")?;
        }
    }
    Ok(0)
}

fn stat_is_dir(reply: &crate::client::Reply) -> bool {
    use base64::Engine as _;
    let Some(value) = reply.header("X-Docker-Container-Path-Stat") else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value.trim()) else {
        return false;
    };
    let stat: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    stat["mode"].as_u64().is_some_and(|m| m & (1 << 31) != 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn container_paths_are_told_from_host_paths() {
        assert_eq!(super::split_container("web:/etc"), Some(("web", "/etc")));
        assert_eq!(super::split_container("./a:b"), None);
        assert_eq!(super::split_container("/tmp/x"), None);
        assert_eq!(super::split_container("plain"), None);
    }
}
