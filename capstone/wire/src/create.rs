//! A create request ([`api::ContainerCreateBody`], Docker's type) → what the record keeps
//! ([`record::Config`], [`record::HostConfig`], baleia's types). Field by field, so the
//! compiler sees both sides: a field renamed in either cannot be lost without an error here.

use crate::api;
use crate::record::{Config, DeviceMapping, HostConfig, LogConfig, RestartPolicy, Ulimit};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// `{"80/tcp": {}}`, the map-of-empty-objects Docker uses for sets of keys.
fn key_set(keys: &Option<Vec<String>>) -> Option<Value> {
    keys.as_ref().map(|keys| {
        Value::Object(
            keys.iter()
                .map(|k| (k.clone(), Value::Object(Default::default())))
                .collect(),
        )
    })
}

fn sorted<V: Clone>(map: &Option<HashMap<String, V>>) -> Option<BTreeMap<String, V>> {
    map.as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Values the record keeps as Docker's JSON (mounts, port bindings): the API type written out.
fn json_of(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

impl Config {
    pub fn from_api(body: &api::ContainerCreateBody) -> Config {
        Config {
            hostname: body.hostname.clone().unwrap_or_default(),
            domainname: body.domainname.clone().unwrap_or_default(),
            user: body.user.clone().unwrap_or_default(),
            attach_stdin: body.attach_stdin.unwrap_or_default(),
            attach_stdout: body.attach_stdout.unwrap_or_default(),
            attach_stderr: body.attach_stderr.unwrap_or_default(),
            tty: body.tty.unwrap_or_default(),
            open_stdin: body.open_stdin.unwrap_or_default(),
            stdin_once: body.stdin_once.unwrap_or_default(),
            env: body.env.clone(),
            cmd: body.cmd.clone(),
            entrypoint: body.entrypoint.clone(),
            image: body.image.clone().unwrap_or_default(),
            working_dir: body.working_dir.clone().unwrap_or_default(),
            labels: sorted(&body.labels),
            stop_signal: body.stop_signal.clone(),
            stop_timeout: body.stop_timeout,
            exposed_ports: key_set(&body.exposed_ports),
            volumes: key_set(&body.volumes),
        }
    }
}

impl HostConfig {
    /// `Err`: a value the record cannot hold, naming the field.
    pub fn from_api(host: &api::HostConfig) -> Result<HostConfig, String> {
        let console_size = match host.console_size.as_deref() {
            None => None,
            Some(&[rows, columns]) => Some([
                u16::try_from(rows).map_err(|_| "HostConfig.ConsoleSize: rows out of range")?,
                u16::try_from(columns)
                    .map_err(|_| "HostConfig.ConsoleSize: columns out of range")?,
            ]),
            Some(_) => return Err("HostConfig.ConsoleSize: want [rows, columns]".into()),
        };
        let restart = host.restart_policy.clone().unwrap_or_default();
        let log = host.log_config.clone().unwrap_or_default();
        Ok(HostConfig {
            console_size,
            memory: host.memory.unwrap_or_default(),
            nano_cpus: host.nano_cpus.unwrap_or_default(),
            cpu_shares: host.cpu_shares.unwrap_or_default(),
            cpu_quota: host.cpu_quota.unwrap_or_default(),
            cpu_period: host.cpu_period.unwrap_or_default(),
            pids_limit: host.pids_limit,
            readonly_rootfs: host.readonly_rootfs.unwrap_or_default(),
            auto_remove: host.auto_remove.unwrap_or_default(),
            binds: host.binds.clone(),
            mounts: host
                .mounts
                .as_ref()
                .map(|m| m.iter().map(json_of).collect()),
            tmpfs: sorted(&host.tmpfs),
            port_bindings: host
                .port_bindings
                .as_ref()
                .map(|ports| ports.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
            publish_all_ports: host.publish_all_ports.unwrap_or_default(),
            network_mode: host.network_mode.clone().unwrap_or_default(),
            dns: host.dns.clone(),
            restart_policy: RestartPolicy {
                name: restart.name.map(|n| n.to_string()).unwrap_or_default(),
                maximum_retry_count: restart.maximum_retry_count.unwrap_or_default(),
            },
            init: host.init,
            privileged: host.privileged.unwrap_or_default(),
            cap_add: host.cap_add.clone(),
            cap_drop: host.cap_drop.clone(),
            security_opt: host.security_opt.clone(),
            devices: host.devices.as_ref().map(|devices| {
                devices
                    .iter()
                    .map(|d| DeviceMapping {
                        path_on_host: d.path_on_host.clone().unwrap_or_default(),
                        path_in_container: d.path_in_container.clone().unwrap_or_default(),
                        cgroup_permissions: d.cgroup_permissions.clone().unwrap_or_default(),
                    })
                    .collect()
            }),
            device_cgroup_rules: host.device_cgroup_rules.clone(),
            device_requests: host
                .device_requests
                .as_ref()
                .map(|r| r.iter().map(json_of).collect()),
            log_config: LogConfig {
                kind: log.typ.unwrap_or_default(),
                config: sorted(&log.config).unwrap_or_default(),
            },
            group_add: host.group_add.clone(),
            ulimits: host.ulimits.as_ref().map(|limits| {
                limits
                    .iter()
                    .map(|u| Ulimit {
                        name: u.name.clone().unwrap_or_default(),
                        soft: u.soft.unwrap_or_default(),
                        hard: u.hard.unwrap_or_default(),
                    })
                    .collect()
            }),
            shm_size: host.shm_size.unwrap_or_default(),
            sysctls: sorted(&host.sysctls),
            extra_hosts: host.extra_hosts.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the record kept before the API was typed (the body read straight into the
    /// record's types) is what it keeps now, for a body as the docker CLI sends it.
    #[test]
    fn the_record_keeps_what_the_untyped_body_gave() {
        let body = json!({
            "Image": "busybox", "Cmd": ["sh"], "Entrypoint": [], "Env": ["A=1"], "Tty": true,
            "Labels": { "b": "2", "a": "1" }, "ExposedPorts": { "80/tcp": {} }, "Volumes": {},
            "StopTimeout": 3,
            "HostConfig": {
                "ConsoleSize": [24, 80], "Memory": 1048576, "PidsLimit": null,
                "PortBindings": { "80/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "8080" }] },
                "Mounts": [{ "Type": "bind", "Source": "/srv", "Target": "/www", "ReadOnly": true }],
                "RestartPolicy": { "Name": "on-failure", "MaximumRetryCount": 2 },
                "LogConfig": { "Type": "json-file", "Config": {} },
                "Devices": [{ "PathOnHost": "/dev/null", "PathInContainer": "", "CgroupPermissions": "rwm" }],
            },
        });
        let typed: api::ContainerCreateBody = api::parse_strict(&body, &[]).unwrap();
        let config = Config::from_api(&typed);
        let host = HostConfig::from_api(&typed.host_config.unwrap()).unwrap();
        let untyped_config: Config = serde_json::from_value(body.clone()).unwrap();
        let untyped_host: HostConfig = serde_json::from_value(body["HostConfig"].clone()).unwrap();
        assert_eq!(config, untyped_config);
        assert_eq!(host, untyped_host);
    }

    #[test]
    fn a_console_size_is_two_numbers() {
        let host = api::HostConfig {
            console_size: Some(vec![1, 2, 3]),
            ..Default::default()
        };
        assert!(HostConfig::from_api(&host)
            .unwrap_err()
            .contains("ConsoleSize"));
    }
}
