//! `tags`: `GET /v2/<name>/tags/list?n=<page size>`, then each page the `Link: <...>;
//! rel="next"` header points at (RFC 5988 links; the distribution spec's pagination).

use crate::client::{Body, Client};
use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use oci_spec::distribution::TagList;
use std::io::Read;

/// Every tag of `repository`, fetched `page` at a time.
pub fn list(client: &Client, repository: &str, page: usize) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    let mut url = format!("/v2/{repository}/tags/list?n={page}");
    loop {
        let response = client.expect("GET", &url, &[], Body::Empty, &[200])?;
        let next = response.header("link").and_then(next_link);
        let mut text = String::new();
        response
            .into_reader()
            .take(16 * 1024 * 1024)
            .read_to_string(&mut text)
            .map_err(|cause| Error::file("read tag list from", client.url(&url))(cause))?;
        let list: TagList = serde_json::from_str(&text)
            .map_err(|e| Error::Protocol(format!("{url}: not a tag list: {e}")))?;
        tags.extend(list.tags().iter().cloned());
        match next {
            Some(next) => url = next,
            None => return Ok(tags),
        }
    }
}

/// `</v2/x/tags/list?n=2&last=b>; rel="next"` → `/v2/x/tags/list?n=2&last=b`
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_link_is_found() {
        assert_eq!(
            super::next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(super::next_link(r#"</a>; rel="prev""#), None);
    }
}
