//! Value rules of list filters, as Docker's. The `name` filter of container and network lists
//! is a regular expression (`docker ps --filter name=^/web$`). Go's `regexp.MatchString` finds the pattern anywhere
//! in the name, so a plain word still matches as a substring; containers' names are matched
//! with their leading `/`, as Docker stores them. A pattern that does not compile matches
//! nothing, as in Docker (its `filters.Args.Match` skips it). A container `status` that is no
//! state at all is refused (400), as Docker refuses it: an empty answer would read as "none".

use super::filters::Filters;
use super::{ApiError, ApiResult};
use regex::Regex;

/// The states a container can be in (Docker's `container.State` words).
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// `400` for a `status` filter value that names no state.
pub fn check_status(filters: &Filters) -> ApiResult<()> {
    match filters
        .values("status")
        .iter()
        .find(|v| !STATUSES.contains(&v.as_str()))
    {
        Some(bad) => Err(ApiError::bad_request(format!(
            "invalid filter 'status={bad}'"
        ))),
        None => Ok(()),
    }
}

/// Whether `pattern` matches a container named `name` (stored without the `/`).
pub fn matches(pattern: &str, name: &str) -> bool {
    Regex::new(pattern).is_ok_and(|re| re.is_match(&format!("/{name}")))
}

/// Whether `pattern` matches a network named `name`.
pub fn matches_network(pattern: &str, name: &str) -> bool {
    Regex::new(pattern).is_ok_and(|re| re.is_match(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_docker_matches_them() {
        assert!(matches("web", "my-web-1"));
        assert!(matches("^/web$", "web"));
        assert!(!matches("^web$", "web"), "the stored name starts with /");
        assert!(matches("sdk-.*-m1", "sdk-web-m1"));
        assert!(!matches("(", "web"), "a bad pattern matches nothing");
        assert!(matches_network("^front", "frontend"));
        assert!(!matches_network("^end", "frontend"));
    }

    #[test]
    fn a_status_that_is_no_state_is_refused() {
        let ok = Filters::parse(Some(r#"{"status":["exited","paused"]}"#), &["status"]).unwrap();
        assert!(check_status(&ok).is_ok());
        let bad = Filters::parse(Some(r#"{"status":["sleeping"]}"#), &["status"]).unwrap();
        let error = check_status(&bad).unwrap_err();
        assert_eq!(error.message, "invalid filter 'status=sleeping'");
    }
}
