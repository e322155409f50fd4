//! Who may do what: nothing (anyone may), Basic credentials, or tokens.
//!
//! With `--user alice:secret` the registry answers every `/v2/` request without valid
//! credentials with `401` and `WWW-Authenticate: Basic realm="baleia"`. With `--token-auth` as
//! well, it behaves like Docker Hub: the challenge is `Bearer realm="http://ADDR/token",
//! service="baleia",scope="repository:NAME:pull,push"`, and `/token` trades Basic credentials
//! for a short-lived random token that grants exactly the scopes asked for. With
//! `--anonymous-pull`, anyone may pull (as from Docker Hub's public images): without
//! credentials, Basic mode lets reads through, and `/token` hands out pull-only tokens.

use crate::auth::Credentials;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token lives.
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

pub struct Access {
    pub users: Vec<Credentials>,
    pub token_realm: Option<String>,
    /// Reads need no credentials (pushes still do).
    pub anonymous_pull: bool,
    /// token → (expiry, scopes granted)
    tokens: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

/// What a request needs: `repository:x/y:pull`, `repository:x/y:push`, or nothing in
/// particular (`/v2/`, which only asks "who are you?").
pub struct Need {
    pub scope: Option<String>,
}

pub enum Verdict {
    Allowed,
    /// The `WWW-Authenticate` header of the 401.
    Challenge(String),
}

impl Access {
    pub fn new(
        users: Vec<Credentials>,
        token_realm: Option<String>,
        anonymous_pull: bool,
    ) -> Access {
        Access {
            users,
            token_realm,
            anonymous_pull,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn valid_basic(&self, authorization: Option<&str>) -> bool {
        authorization
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(Credentials::decode)
            .is_some_and(|c| self.users.contains(&c))
    }

    pub fn check(&self, authorization: Option<&str>, need: &Need) -> Verdict {
        if self.users.is_empty() {
            return Verdict::Allowed;
        }
        let Some(realm) = &self.token_realm else {
            let read = need.scope.as_ref().is_some_and(|s| s.ends_with(":pull"));
            return if self.valid_basic(authorization) || (self.anonymous_pull && read) {
                Verdict::Allowed
            } else {
                Verdict::Challenge(r#"Basic realm="baleia""#.to_string())
            };
        };
        if let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
            let tokens = self.tokens.lock().expect("tokens");
            if let Some((expiry, scopes)) = tokens.get(token.trim()) {
                let covered = need
                    .scope
                    .as_ref()
                    .is_none_or(|needed| scopes.iter().any(|granted| covers(granted, needed)));
                if *expiry > Instant::now() && covered {
                    return Verdict::Allowed;
                }
            }
        }
        let mut challenge = format!(r#"Bearer realm="{realm}",service="baleia""#);
        if let Some(scope) = &need.scope {
            challenge += &format!(r#",scope="{scope}""#);
        }
        Verdict::Challenge(challenge)
    }

    /// `/token`: a new token for these scopes, if the Basic credentials are right.
    pub fn issue(&self, authorization: Option<&str>, scopes: Vec<String>) -> Option<String> {
        let scopes = if self.valid_basic(authorization) {
            scopes
        } else if authorization.is_none() && self.anonymous_pull {
            // Anonymous: whatever was asked for, pull only.
            scopes
                .iter()
                .filter_map(|s| {
                    let (resource, actions) = s.rsplit_once(':')?;
                    actions
                        .split(',')
                        .any(|a| a == "pull")
                        .then(|| format!("{resource}:pull"))
                })
                .collect()
        } else {
            return None;
        };
        let token = random_hex();
        let mut tokens = self.tokens.lock().expect("tokens");
        let now = Instant::now();
        tokens.retain(|_, (expiry, _)| *expiry > now);
        tokens.insert(token.clone(), (now + TOKEN_LIFETIME, scopes));
        Some(token)
    }
}

/// Does the granted scope `repository:x:pull,push` cover the needed `repository:x:push`?
fn covers(granted: &str, needed: &str) -> bool {
    let split = |s: &str| {
        let (rest, actions) = s.rsplit_once(':')?;
        Some((
            rest.to_string(),
            actions.split(',').map(str::to_string).collect::<Vec<_>>(),
        ))
    };
    match (split(granted), split(needed)) {
        (Some((g, g_actions)), Some((n, n_actions))) => {
            g == n
                && n_actions
                    .iter()
                    .all(|a| g_actions.contains(a) || g_actions.iter().any(|g| g == "*"))
        }
        _ => false,
    }
}

/// 128 random bits from the kernel (through /dev/urandom), as hex.
pub fn random_hex() -> String {
    ch01_namespaces::common::id::random_hex(16).expect("read /dev/urandom")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_their_actions_in_their_repository_only() {
        assert!(covers("repository:x/y:pull,push", "repository:x/y:push"));
        assert!(covers("repository:x/y:pull,push", "repository:x/y:pull"));
        assert!(!covers("repository:x/y:pull", "repository:x/y:push"));
        assert!(!covers("repository:x/y:pull,push", "repository:x/z:pull"));
    }

    #[test]
    fn tokens_are_issued_only_for_good_credentials_and_only_for_their_scope() {
        let alice = Credentials::parse("alice:secret").unwrap();
        let access = Access::new(vec![alice.clone()], Some("http://r/token".into()), false);
        let need = |s: &str| Need {
            scope: Some(s.to_string()),
        };
        assert!(access
            .issue(Some("Basic YWxpY2U6d3Jvbmc="), vec![])
            .is_none());
        let token = access
            .issue(
                Some(&alice.basic_header()),
                vec!["repository:a:pull".into()],
            )
            .unwrap();
        let bearer = format!("Bearer {token}");
        assert!(matches!(
            access.check(Some(&bearer), &need("repository:a:pull")),
            Verdict::Allowed
        ));
        match access.check(Some(&bearer), &need("repository:a:push")) {
            Verdict::Challenge(c) => assert!(c.contains(r#"scope="repository:a:push""#), "{c}"),
            Verdict::Allowed => panic!("a pull token allowed a push"),
        }
        assert!(access.issue(None, vec![]).is_none(), "no anonymous tokens");
    }

    #[test]
    fn anonymous_tokens_only_pull() {
        let alice = Credentials::parse("alice:secret").unwrap();
        let access = Access::new(vec![alice], Some("http://r/token".into()), true);
        let token = access
            .issue(None, vec!["repository:a:pull,push".into()])
            .unwrap();
        let bearer = format!("Bearer {token}");
        let need = |s: &str| Need {
            scope: Some(s.to_string()),
        };
        assert!(matches!(
            access.check(Some(&bearer), &need("repository:a:pull")),
            Verdict::Allowed
        ));
        assert!(matches!(
            access.check(Some(&bearer), &need("repository:a:pull,push")),
            Verdict::Challenge(_)
        ));
        assert!(
            access
                .issue(Some("Basic YWxpY2U6d3Jvbmc="), vec![])
                .is_none(),
            "wrong credentials are refused, not downgraded"
        );
    }
}
