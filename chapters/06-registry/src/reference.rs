//! Image references: chapter 04's [`Reference`] (`busybox` → `docker.io/library/busybox:latest`,
//! the grammar of distribution's `reference` package), and the one thing a registry client adds
//! to it: the host a registry's API really answers on.

pub use ch04_images::reference::{
    path_component_ok as valid_component, valid_tag, Reference, DOCKER_HUB,
};

/// The host Docker Hub's API answers on: `docker.io` is only its name.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Where to send `reference`'s requests: its registry, except Docker Hub's API host for
/// `docker.io`.
pub fn api_host(reference: &Reference) -> &str {
    if reference.registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        &reference.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_asked_on_its_api_host() {
        let hub = Reference::parse("busybox").unwrap();
        assert_eq!(api_host(&hub), "registry-1.docker.io");
        let local = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(api_host(&local), "localhost:5000");
    }
}
