//! Where a registry may send us.
//!
//! Registries answer some requests with a redirect (`307 Location: ...`): Docker Hub sends blob
//! downloads to a CDN. Following any redirect blindly would let a registry make us connect
//! anywhere: a registry on this machine could point us at an address inside the network
//! (server-side request forgery), or an HTTPS registry could downgrade us to plain HTTP. So:
//!
//! - a redirect to the registry's own host is always followed;
//! - from a registry on loopback, only to loopback: a local registry has no business sending
//!   us elsewhere;
//! - from any other registry, only to `https` (no downgrade), or to its own host;
//! - at most [`MAX_REDIRECTS`], and only for GET and HEAD;
//! - the `Authorization` header goes only to the registry's own host, never to the CDN.

use url::Url;

pub const MAX_REDIRECTS: usize = 5;

/// Is `status` a redirect we may follow?
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn host_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Check a redirect from the registry at `registry` to `to`; the reason it is refused.
pub fn check(registry: &Url, to: &Url) -> Result<(), String> {
    if same_origin(registry, to) {
        return Ok(());
    }
    if host_is_loopback(registry) {
        if host_is_loopback(to) {
            return Ok(());
        }
        return Err(format!(
            "the registry at {} (on this machine) redirected us to {to}, which is not: refused",
            registry.origin().ascii_serialization()
        ));
    }
    if to.scheme() != "https" {
        return Err(format!(
            "the registry at {} redirected us to {to}, which is not HTTPS: refused",
            registry.origin().ascii_serialization()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn local_registries_stay_local_and_https_never_downgrades() {
        let local = url("http://127.0.0.1:5000/v2/x/blobs/sha256:ab");
        assert!(check(&local, &url("http://127.0.0.1:5000/other")).is_ok());
        assert!(check(&local, &url("http://localhost:6000/b")).is_ok());
        assert!(check(&local, &url("http://10.0.0.7/b")).is_err());
        assert!(check(&local, &url("https://cdn.example/b")).is_err());
        assert!(check(&local, &url("http://0.0.0.0:1/b")).is_err());
        let hub = url("https://registry-1.docker.io/v2/");
        assert!(check(&hub, &url("https://production.cloudflare.docker.com/x")).is_ok());
        assert!(check(&hub, &url("http://production.cloudflare.docker.com/x")).is_err());
    }
}
