//! `system df`, `system prune`, `container prune`, `image prune`: disk use and clean-up.

use crate::client::{encode, Client};
use anyhow::Result;
use serde_json::Value;
use std::io::Write;

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
    let cache = list("BuildCache");
    let cache_size: u64 = cache.iter().map(|c| num(c, "Size")).sum();
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
            cache.len().to_string(),
            "0".into(),
            size(cache_size),
            size(cache_size),
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
            if all { "images without at least one container associated to them\n  - all build cache" } else { "dangling" },
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
    if what == "system" && all {
        reclaimed += prune_one(
            client,
            "/build/prune",
            "CachesDeleted",
            "Deleted build cache objects",
        )?;
    }
    println!("Total reclaimed space: {}", size(reclaimed));
    Ok(0)
}
