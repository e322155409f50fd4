//! What `images`, `history` and `tree` print: the store, seen three ways.

use crate::digest::short;
use crate::error::Result;
use crate::image::Image;
use crate::reference;
use crate::time;
use oci_spec::image::History;
use std::collections::{BTreeMap, HashMap};

/// `1.24 MB`, in decimal units as Docker prints them.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for next in UNITS {
        value /= 1000.0;
        unit = next;
        if value < 1000.0 {
            break;
        }
    }
    format!("{value:.2} {unit}")
}

/// Lay out rows in columns two spaces apart (the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len() - 1;
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `images`: one row per tag. SIZE is the layers as stored (compressed); SHARED the part of it
/// in layers other images use too; UNIQUE what removing this image alone would free.
pub fn images(images: &[Image]) -> String {
    let mut users: HashMap<String, usize> = HashMap::new();
    for image in images {
        for layer in image.layers() {
            *users.entry(layer.digest().to_string()).or_default() += 1;
        }
    }
    let mut rows = Vec::new();
    for image in images {
        let shared: u64 = image
            .layers()
            .iter()
            .filter(|l| users[&l.digest().to_string()] > 1)
            .map(|l| l.size())
            .sum();
        let mut names: Vec<(String, String)> = image
            .tags
            .iter()
            .map(|t| {
                let (name, tag) = reference::split(t);
                (name.to_string(), tag.to_string())
            })
            .collect();
        if names.is_empty() {
            names.push(("<none>".into(), "<none>".into()));
        }
        for (name, tag) in names {
            rows.push(vec![
                name,
                tag,
                short(image.id()).to_string(),
                time::display(image.config.created().as_deref()),
                human_size(image.size()),
                human_size(shared),
                human_size(image.size() - shared),
            ]);
        }
    }
    rows.sort();
    table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED",
            "UNIQUE",
        ],
        &rows,
    )
}

/// The history entry of each layer, bottom first (`None` where the config has no entry for it).
fn layer_history(image: &Image) -> Vec<Option<History>> {
    let entries: Vec<History> = image
        .config
        .history()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .collect();
    if entries.len() == image.layers().len() {
        entries.into_iter().map(Some).collect()
    } else {
        vec![None; image.layers().len()]
    }
}

/// `history`: newest first, one row per history entry (a layer, or a config-only step).
pub fn history(image: &Image) -> Result<String> {
    let diff_ids = image.diff_ids()?;
    let mut rows = Vec::new();
    let mut layer = image.layers().len();
    let entries = image.config.history().clone().unwrap_or_default();
    for entry in entries.iter().rev() {
        let (id, size) = if entry.empty_layer().unwrap_or(false) || layer == 0 {
            ("-".to_string(), "0 B".to_string())
        } else {
            layer -= 1;
            (
                short(&diff_ids[layer]).to_string(),
                human_size(image.layers()[layer].size()),
            )
        };
        rows.push(vec![
            id,
            time::display(entry.created().as_deref()),
            entry.created_by().clone().unwrap_or_default(),
            size,
            entry.author().clone().unwrap_or_default(),
            entry.comment().clone().unwrap_or_default(),
        ]);
    }
    Ok(table(
        &[
            "LAYER",
            "CREATED",
            "CREATED BY",
            "SIZE",
            "AUTHOR",
            "COMMENT",
        ],
        &rows,
    ))
}

#[derive(Default)]
struct Node {
    line: String,
    images: Vec<String>,
    children: Vec<String>,
}

/// `tree`: the layers of every image as one tree. A node is a layer *in its place* (a chain
/// id); two images share a node when they share that layer and everything below it.
pub fn tree(images: &[Image]) -> Result<String> {
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut roots: Vec<String> = Vec::new();
    for image in images {
        let chain = image.chain_ids()?;
        let history = layer_history(image);
        let mut parent: Option<String> = None;
        for (i, chain_id) in chain.iter().enumerate() {
            let key = chain_id.digest().to_string();
            if !nodes.contains_key(&key) {
                let made_by = history[i]
                    .as_ref()
                    .and_then(|h| h.created_by().clone())
                    .unwrap_or_default();
                let comment = history[i]
                    .as_ref()
                    .and_then(|h| h.comment().clone())
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                nodes.insert(
                    key.clone(),
                    Node {
                        line: format!(
                            "{} {} {made_by}{comment}",
                            &key[..12],
                            human_size(image.layers()[i].size())
                        ),
                        ..Node::default()
                    },
                );
                match &parent {
                    Some(p) => nodes
                        .get_mut(p)
                        .expect("parent node")
                        .children
                        .push(key.clone()),
                    None => roots.push(key.clone()),
                }
            }
            parent = Some(key);
        }
        if let Some(top) = parent {
            let mut names = image.tags.clone();
            if names.is_empty() {
                names.push(format!("<none>@{}", short(image.id())));
            }
            nodes.get_mut(&top).expect("top node").images.extend(names);
        }
    }
    let mut out = String::from(".\n");
    draw(&nodes, &roots, "", &mut out);
    Ok(out)
}

fn draw(nodes: &BTreeMap<String, Node>, keys: &[String], prefix: &str, out: &mut String) {
    for (i, key) in keys.iter().enumerate() {
        let node = &nodes[key];
        let last = i + 1 == keys.len();
        let images = if node.images.is_empty() {
            String::new()
        } else {
            format!("  [{}]", node.images.join(", "))
        };
        out.push_str(&format!(
            "{prefix}{}{}{images}\n",
            if last { "└── " } else { "├── " },
            node.line.trim_end()
        ));
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        draw(nodes, &node.children, &deeper, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_240_000), "1.24 MB");
        assert_eq!(human_size(5_000_000_000), "5.00 GB");
    }

    #[test]
    fn tables_align_columns() {
        let out = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(out, "A    BB\nxyz  1\n");
    }
}
