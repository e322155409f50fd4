//! `baleia system check`, the client's side: ask the daemon to check the engine's state
//! (the daemon's `engine::check`) and print the report as chapter 04's `check` does.
//! Exit code 1 if anything is damaged, 0 if the state is whole (leftovers are not damage).

use crate::client::Client;
use anyhow::Result;
use serde_json::Value;

pub fn system_check(client: &Client) -> Result<i32> {
    let report = client.call("GET", "/baleia/system/check", None)?;
    let lines = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let problems = lines("Problems");
    for problem in &problems {
        println!("damaged: {problem}");
    }
    for leftover in lines("Leftovers") {
        println!("leftover: {leftover}");
    }
    println!(
        "checked {} blobs, {} images, {} unpacked layers, {} containers: {}",
        report["Blobs"],
        report["Images"],
        report["Layers"],
        report["Containers"],
        if problems.is_empty() {
            "whole"
        } else {
            "DAMAGED"
        }
    );
    Ok(if problems.is_empty() { 0 } else { 1 })
}
