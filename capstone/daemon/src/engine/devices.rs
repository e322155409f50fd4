//! Which devices a container gets: Docker's device rules and `--device`, written into the
//! spec (`linux.devices`, `linux.resources.devices`), where the runtime enforces them
//! ([`crate::runtime::devices`]: cgroup v1's devices controller, or an eBPF program on v2).

use super::record::{DeviceMapping, HostConfig};
use super::ApiError;
use crate::runtime::devices::{access, Kind, Rule, ALWAYS_ALLOWED};
use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

/// The device nodes the container gets (`linux.devices`, made in its /dev) and the rules of
/// which it may open (`linux.resources.devices`), as Docker writes them: deny everything, then
/// allow what every container needs (making nodes; the standard devices, the console, ptmx
/// and the terminals: the runtime's [`ALWAYS_ALLOWED`], which it appends anyway) and each
/// `--device` with its permissions. `--privileged` allows every device. A node in
/// `linux.devices` is not allowed by being there: only these rules say what opens.
pub fn of(host: &HostConfig) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), ApiError> {
    let mut rules = vec![Rule {
        allow: host.privileged,
        kind: Kind::All,
        major: None,
        minor: None,
        access: access::ALL,
    }];
    if !host.privileged {
        rules.extend(ALWAYS_ALLOWED);
    }
    let mut nodes = Vec::new();
    for mapping in host.devices.iter().flatten() {
        let (node, rule) = device_node(mapping)?;
        nodes.push(node);
        rules.push(rule);
    }
    for text in host.device_cgroup_rules.iter().flatten() {
        rules.push(device_cgroup_rule(text)?);
    }
    let rules = rules
        .iter()
        .map(|rule| spec_rule(rule).map_err(ApiError::internal))
        .collect::<Result<_, _>>()?;
    Ok((nodes, rules))
}

/// A [`Rule`] as the spec writes it.
fn spec_rule(rule: &Rule) -> Result<LinuxDeviceCgroup, oci_spec::OciSpecError> {
    let mut builder = LinuxDeviceCgroupBuilder::default()
        .allow(rule.allow)
        .typ(match rule.kind {
            Kind::All => LinuxDeviceType::A,
            Kind::Char => LinuxDeviceType::C,
            Kind::Block => LinuxDeviceType::B,
        })
        .access(rule.access_letters());
    if let Some(major) = rule.major {
        builder = builder.major(i64::from(major));
    }
    if let Some(minor) = rule.minor {
        builder = builder.minor(i64::from(minor));
    }
    builder.build()
}

/// One `--device-cgroup-rule`, in v1's form (`TYPE MAJOR:MINOR ACCESS`, e.g. `c 1:11 rw`, `b
/// 8:* r`), an allow rule as Docker makes it.
fn device_cgroup_rule(text: &str) -> Result<Rule, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "invalid device cgroup rule {text:?}: expected TYPE MAJOR:MINOR ACCESS, e.g. \
             'c 1:11 rw' (type a, b or c; a number or *; some of rwm)"
        ))
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let [kind, numbers, access] = words[..] else {
        return Err(bad());
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| match n {
        "*" => Ok(serde_json::Value::Null),
        n => n
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| bad()),
    };
    // Docker's own check (`[rwm]{1,3}`): the runtime only warns about other letters, as
    // runc does for a spec, but a user's typing mistake is refused here.
    let access_ok = (1..=3).contains(&access.len()) && access.chars().all(|c| "rwm".contains(c));
    if !matches!(kind, "a" | "b" | "c") || !access_ok {
        return Err(bad());
    }
    let json = serde_json::json!({"allow": true, "type": kind, "major": number(major)?,
        "minor": number(minor)?, "access": access});
    let rule = serde_json::from_value(json).map_err(|_| bad())?;
    Rule::from_spec(&rule).map_err(|_| bad())
}

/// One `--device`: the host's node, looked at with `stat(2)` (through symlinks, as Docker:
/// `/dev/disk/by-id/...` names the disk), becomes a node in the container with its type,
/// numbers, mode and owner, and a rule allowing the permissions asked for.
fn device_node(mapping: &DeviceMapping) -> Result<(LinuxDevice, Rule), ApiError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let host = &mapping.path_on_host;
    let bad = |why: String| ApiError::bad_request(format!("--device {host}: {why}"));
    let inside = match mapping.path_in_container.as_str() {
        "" => host.as_str(),
        path => path,
    };
    let access = match mapping.cgroup_permissions.as_str() {
        "" => "rwm",
        perms => perms,
    };
    let metadata = std::fs::metadata(host).map_err(|e| {
        bad(format!(
            "error gathering device information while adding custom device: {e}"
        ))
    })?;
    let typ = if metadata.file_type().is_char_device() {
        LinuxDeviceType::C
    } else if metadata.file_type().is_block_device() {
        LinuxDeviceType::B
    } else if metadata.is_dir() {
        return Err(bad(
            "a directory of devices is not supported; name each device".into(),
        ));
    } else {
        return Err(bad("not a device node".into()));
    };
    if !inside.starts_with("/dev/") {
        return Err(bad(format!(
            "the path in the container, {inside}, must be under /dev/"
        )));
    }
    let (major, minor) = (
        nix::sys::stat::major(metadata.rdev()),
        nix::sys::stat::minor(metadata.rdev()),
    );
    let rule = Rule::from_spec(
        &LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(typ)
            .major(major as i64)
            .minor(minor as i64)
            .access(access)
            .build()
            .map_err(ApiError::internal)?,
    )
    .map_err(|e| bad(format!("{e:#}")))?;
    let node = LinuxDeviceBuilder::default()
        .path(inside)
        .typ(typ)
        .major(major as i64)
        .minor(minor as i64)
        .file_mode(metadata.mode() & 0o7777)
        .uid(metadata.uid())
        .gid(metadata.gid())
        .build()
        .map_err(ApiError::internal)?;
    Ok((node, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn device_rules_are_dockers_and_device_adds_a_node_and_its_rule() {
        let texts = |rules: &[LinuxDeviceCgroup]| -> Vec<String> {
            rules
                .iter()
                .map(|r| {
                    let rule = Rule::from_spec(r).unwrap();
                    format!("{} {rule}", if rule.allow { "allow" } else { "deny" })
                })
                .collect()
        };
        let (nodes, rules) = of(&HostConfig::default()).unwrap();
        assert!(nodes.is_empty());
        let rules = texts(&rules);
        assert_eq!(
            rules[..4],
            [
                "deny a *:* rwm",
                "allow c *:* m",
                "allow b *:* m",
                "allow c 1:3 rwm"
            ]
        );
        assert!(
            rules.contains(&"allow c 136:* rwm".to_string()),
            "{rules:?}"
        );

        let host = HostConfig {
            privileged: true,
            devices: Some(vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mine".into(),
                cgroup_permissions: "r".into(),
            }]),
            ..HostConfig::default()
        };
        let (nodes, rules) = of(&host).unwrap();
        assert_eq!(texts(&rules), ["allow a *:* rwm", "allow c 1:3 r"]);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].path(), Path::new("/dev/mine"));
        assert_eq!((nodes[0].major(), nodes[0].minor()), (1, 3));

        let refused = |host: &str, inside: &str| {
            let host = HostConfig {
                devices: Some(vec![DeviceMapping {
                    path_on_host: host.into(),
                    path_in_container: inside.into(),
                    cgroup_permissions: String::new(),
                }]),
                ..HostConfig::default()
            };
            format!("{:?}", of(&host).unwrap_err())
        };
        assert!(refused("/etc/passwd", "").contains("not a device node"));
        assert!(refused("/dev", "").contains("a directory of devices is not supported"));
        assert!(refused("/dev/null", "/tmp/null").contains("must be under /dev/"));
        assert!(refused("/dev/nothing-here", "").contains("No such file"));

        let host = HostConfig {
            device_cgroup_rules: Some(vec!["c 1:11 rw".into(), "b 8:* m".into()]),
            ..HostConfig::default()
        };
        let rules = texts(&of(&host).unwrap().1);
        assert_eq!(
            rules[rules.len() - 2..],
            ["allow c 1:11 rw", "allow b 8:* m"]
        );
        for bad in ["c 1:11", "x 1:11 r", "c 1-11 r", "c 1:11 rx", "c a:1 r"] {
            let host = HostConfig {
                device_cgroup_rules: Some(vec![bad.into()]),
                ..HostConfig::default()
            };
            let error = format!("{:?}", of(&host).unwrap_err());
            assert!(
                error.contains("invalid device cgroup rule"),
                "{bad}: {error}"
            );
        }
    }
}
