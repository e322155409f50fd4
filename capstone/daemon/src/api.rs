//! The Docker Engine API: paths to engine calls, engine results to Docker's JSON and status
//! codes. Paths arrive without their `/v1.NN` prefix (see [`crate::http`]).
//!
//! Calls that belong to chapters not yet wired into the engine answer 501 with a message
//! saying so.

use crate::engine::filters::{keys, Filters};
use crate::engine::{containers::POLL, images, registry, ApiError, ApiResult, Engine};
use crate::http::{Request, Response, API_VERSION, MIN_API_VERSION};
use crate::logs;
use baleia_wire::api;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::Arc;

/// Answer one request.
pub fn handle(engine: &Arc<Engine>, request: Request) -> Response {
    match route(engine, &request) {
        Ok(response) => response,
        Err(error) => Response::json(
            error.status,
            &api::ErrorResponse {
                message: error.message,
            },
        ),
    }
}

fn route(engine: &Arc<Engine>, req: &Request) -> ApiResult<Response> {
    let method = req.method.as_str();
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    if let Some(refused) = no_swarm(&parts) {
        return Err(refused);
    }
    match (method, parts.as_slice()) {
        ("GET" | "HEAD", ["_ping"]) => Ok(Response::text(200, "OK")),
        ("GET", ["version"]) => Ok(Response::json(200, &version())),
        ("GET", ["info"]) => Ok(Response::json(200, &info(engine))),
        ("GET", ["events"]) => crate::engine::events::stream(engine, req),
        ("GET", ["system", "df"]) => Ok(Response::json(200, &engine.system_df()?)),
        ("POST", ["containers", "prune"]) => {
            let filters = filters(req, keys::CONTAINERS_PRUNE)?;
            Ok(Response::json(200, &engine.containers_prune(&filters)?))
        }
        ("POST", ["images", "prune"]) => {
            let filters = filters(req, keys::IMAGES_PRUNE)?;
            Ok(Response::json(200, &engine.images_prune(&filters)?))
        }
        ("POST", ["networks", "prune"]) => {
            let filters = filters(req, keys::NETWORKS_PRUNE)?;
            Ok(Response::json(200, &engine.networks_prune(&filters)?))
        }
        ("POST", ["auth"]) => {
            let body: Value = serde_json::from_slice(&req.body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
            Ok(Response::json(200, &engine.login(&body)?))
        }

        ("GET", ["containers", "json"]) => {
            let filters = filters(req, keys::CONTAINERS)?;
            crate::engine::list_filters::check_status(&filters)?;
            let all = req.flag("all");
            let containers = engine.all();
            let mut list: Vec<Value> = Vec::new();
            for found in containers.iter().rev().filter(|f| all || f.running()) {
                if crate::engine::views::matches(found, &filters, &containers)? {
                    list.push(found.summary(engine));
                }
            }
            if let Some(limit) = req.query("limit").and_then(|l| l.parse::<usize>().ok()) {
                if limit > 0 {
                    list.truncate(limit);
                }
            }
            Ok(Response::json(200, &json!(list)))
        }
        ("POST", ["containers", "create"]) => {
            let raw: Value = json_body(req)?;
            let request = crate::engine::unsupported::read_create(&raw)?;
            let id = engine.create(req.query("name"), request)?;
            let created = api::ContainerCreateResponse {
                id,
                warnings: Vec::new(),
            };
            Ok(Response::json(201, &created))
        }
        ("GET", ["containers", id, "json"]) => {
            Ok(Response::json(200, &engine.find(id)?.inspect(engine)))
        }
        ("POST", ["containers", id, "start"]) => Ok(if engine.start(id)? {
            Response::no_content()
        } else {
            Response::json(304, &json!({}))
        }),
        ("POST", ["containers", id, "stop"]) => {
            let timeout = req
                .query("t")
                .or(req.query("timeout"))
                .and_then(|t| t.parse().ok());
            Ok(if engine.stop(id, timeout, req.query("signal"))? {
                Response::no_content()
            } else {
                Response::json(304, &json!({}))
            })
        }
        ("POST", ["containers", id, "restart"]) => {
            let timeout = req.query("t").and_then(|t| t.parse().ok());
            engine.restart(id, timeout, req.query("signal"))?;
            Ok(Response::no_content())
        }
        ("POST", ["containers", id, "rename"]) => {
            let name = req
                .query("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::bad_request("rename needs a new name (?name=)"))?;
            engine.rename(id, name)?;
            Ok(Response::no_content())
        }
        ("POST", ["containers", id, "update"]) => {
            let body: Value = json_body(req)?;
            engine.update(id, &body)?;
            Ok(Response::json(200, &json!({ "Warnings": [] })))
        }
        ("POST", ["containers", id, "pause"]) => {
            engine.pause(id, true)?;
            Ok(Response::no_content())
        }
        ("POST", ["containers", id, "unpause"]) => {
            engine.pause(id, false)?;
            Ok(Response::no_content())
        }
        ("POST", ["containers", id, "kill"]) => {
            engine.kill(id, req.query("signal"))?;
            Ok(Response::no_content())
        }
        ("DELETE", ["containers", id]) => {
            engine.remove_with(id, req.flag("force"), req.flag("v"))?;
            Ok(Response::no_content())
        }
        ("POST", ["containers", id, "wait"]) => wait(engine, id, req),
        ("GET", ["containers", id, "logs"]) => container_logs(engine, id, req),
        ("POST", ["containers", id, "attach"]) => attach(engine, id, req),
        ("GET", ["containers", id, "top"]) => Ok(Response::json(200, &engine.top(id)?)),
        ("GET", ["containers", id, "stats"]) => stats(engine, id, req),
        ("GET" | "HEAD" | "PUT", ["containers", id, "archive"]) => archive(engine, id, req),
        ("GET", ["containers", id, "export"]) => export(engine, id),
        ("GET", ["containers", id, "changes"]) => Ok(Response::json(200, &engine.changes(id)?)),
        ("POST", ["commit"]) => {
            let id = engine.commit(
                req.query("container").unwrap_or_default(),
                req.query("repo").unwrap_or_default(),
                req.query("tag").unwrap_or_default(),
                req.query("author"),
                req.query("comment"),
            )?;
            Ok(Response::json(201, &api::Id { id }))
        }
        ("GET", ["images", "get"]) => save(engine, &req.query_all("names")),
        ("GET", ["images", rest @ ..]) if rest.last() == Some(&"get") => {
            save(engine, &[rest[..rest.len() - 1].join("/").as_str()])
        }
        ("POST", ["images", "load"]) => {
            let names = engine.load(req.take_upload())?;
            let messages: Vec<Value> = names
                .iter()
                .map(|n| json!({ "stream": format!("Loaded image: {n}\n") }))
                .collect();
            Ok(Response::json_lines(&messages))
        }
        ("POST", ["containers", id, "exec"]) => {
            let raw: Value = json_body(req)?;
            // Keys of older APIs: `Detach` (the start says it), `Container` (the Python SDK
            // sends the id the path already names).
            let body: api::ExecConfig = strict(&raw, &["Detach", "Container"])?;
            let config = crate::engine::exec::ExecConfig::from_api(body)?;
            let id = engine.exec_create(id, config)?;
            Ok(Response::json(201, &api::Id { id }))
        }
        ("POST", ["exec", id, "start"]) => exec_start(engine, id, req),
        ("GET", ["exec", id, "json"]) => Ok(Response::json(200, &engine.exec_inspect(id)?)),
        ("POST", [kind @ ("exec" | "containers"), id, "resize"]) => {
            let size = |k| {
                req.query(k)
                    .and_then(|v| v.parse::<u16>().ok())
                    .unwrap_or(0)
            };
            match *kind {
                "exec" => engine.exec_resize(id, size("h"), size("w"))?,
                _ => engine.resize(id, size("h"), size("w"))?,
            }
            Ok(Response::json(200, &json!({})))
        }

        ("GET", ["images", "json"]) => {
            let filters = filters(req, keys::IMAGES)?;
            Ok(Response::json(200, &engine.images(&filters)?))
        }
        ("GET", ["images", rest @ ..]) if rest.last() == Some(&"json") => {
            let name = rest[..rest.len() - 1].join("/");
            Ok(Response::json(200, &images::inspect(&engine.image(&name)?)))
        }
        ("GET", ["images", rest @ ..]) if rest.last() == Some(&"history") => {
            let name = rest[..rest.len() - 1].join("/");
            Ok(Response::json(200, &images::history(&engine.image(&name)?)))
        }
        ("POST", ["images", rest @ ..]) if rest.last() == Some(&"tag") => {
            let name = rest[..rest.len() - 1].join("/");
            engine.tag(
                &name,
                req.query("repo").unwrap_or_default(),
                req.query("tag").unwrap_or_default(),
            )?;
            Ok(Response::json(201, &json!({})))
        }
        ("DELETE", ["images", rest @ ..]) if !rest.is_empty() => {
            Ok(Response::json(200, &engine.remove_image(&rest.join("/"))?))
        }

        // Not Docker's: chapter 04's layer tree, for `baleia tree`.
        ("GET", ["baleia", "tree"]) => {
            let _lock = engine.store.lock()?;
            let images = ch04_images::image::list(&engine.store)?;
            Ok(Response::text(200, &ch04_images::report::tree(&images)?))
        }
        // Not Docker's: `baleia system check` (crate::engine::check).
        ("GET", ["baleia", "system", "check"]) => Ok(Response::json(200, &engine.system_check()?)),
        ("POST", ["images", "create"]) => {
            let Some(image) = req.query("fromImage") else {
                let id = engine.import(
                    req.take_upload(),
                    req.query("repo"),
                    req.query("tag"),
                    &req.query_all("changes"),
                    req.query("message"),
                )?;
                return Ok(Response::json_lines(&[json!({ "status": id })]));
            };
            let (engine, image) = (engine.clone(), image.to_string());
            let (tag, platform, auth) = (
                req.query("tag").map(String::from),
                req.query("platform").map(String::from),
                req.header("X-Registry-Auth").map(String::from),
            );
            registry::streamed(move |report| {
                engine.pull(
                    &image,
                    tag.as_deref(),
                    platform.as_deref(),
                    auth.as_deref(),
                    report,
                )
            })
        }
        ("POST", ["images", rest @ ..]) if rest.len() > 1 && rest.last() == Some(&"push") => {
            let (engine, name) = (engine.clone(), rest[..rest.len() - 1].join("/"));
            let (tag, auth) = (
                req.query("tag").map(String::from),
                req.header("X-Registry-Auth").map(String::from),
            );
            registry::streamed(move |report| {
                engine.push(&name, tag.as_deref(), auth.as_deref(), report)
            })
        }
        ("POST", ["build"]) => engine.build(req),
        ("POST", ["build", "prune"]) => Ok(Response::json(200, &engine.build_prune()?)),
        ("POST", ["volumes", "create"]) => {
            let body: api::VolumeCreateRequest = strict(&optional_json_body(req)?, &[])?;
            Ok(Response::json(201, &engine.volume_create(&body)?))
        }
        ("GET", ["volumes"]) => {
            let filters = filters(req, keys::VOLUMES)?;
            Ok(Response::json(200, &engine.volume_list(&filters)?))
        }
        ("POST", ["volumes", "prune"]) => {
            let filters = filters(req, keys::VOLUMES_PRUNE)?;
            Ok(Response::json(200, &engine.volume_prune(&filters)?))
        }
        ("GET", ["volumes", name]) => Ok(Response::json(200, &engine.volume_inspect(name)?)),
        ("DELETE", ["volumes", name]) => {
            engine.volume_remove(name)?;
            Ok(Response::no_content())
        }
        ("POST", ["networks", "create"]) => {
            let body: Value = json_body(req)?;
            // `CheckDuplicate`: API < 1.44 (always on since).
            strict::<api::NetworkCreateRequest>(&body, &["CheckDuplicate"])?;
            Ok(Response::json(201, &engine.network_create(&body)?))
        }
        ("GET", ["networks"]) => {
            let filters = filters(req, keys::NETWORKS)?;
            Ok(Response::json(200, &engine.network_list(&filters)?))
        }
        ("POST", ["networks", id, "connect"]) => {
            let body: Value = json_body(req)?;
            strict::<api::NetworkConnectRequest>(&body, &[])?;
            engine.network_connect(id, &body)?;
            Ok(Response::json(200, &json!({})))
        }
        ("POST", ["networks", id, "disconnect"]) => {
            let body: Value = json_body(req)?;
            strict::<api::NetworkDisconnectRequest>(&body, &[])?;
            engine.network_disconnect(id, &body)?;
            Ok(Response::json(200, &json!({})))
        }
        ("GET", ["networks", id]) => Ok(Response::json(200, &engine.network_inspect(id)?)),
        ("DELETE", ["networks", id]) => {
            engine.network_remove(id)?;
            Ok(Response::no_content())
        }
        _ => Err(ApiError::not_found(format!(
            "page not found: {method} {}",
            req.path
        ))),
    }
}

/// baleia has no swarm mode (`info` says `"LocalNodeState": "inactive"`): the swarm's own
/// calls get the answer dockerd gives on a node that is in no swarm, a 503 with dockerd's
/// words, which clients recognise (the SDK's `leave_swarm(force=True)` takes it as done).
fn no_swarm(parts: &[&str]) -> Option<ApiError> {
    match parts {
        ["swarm", "leave"] => Some(ApiError::new(503, "This node is not part of a swarm")),
        ["swarm" | "services" | "nodes" | "tasks" | "secrets" | "configs", ..] => {
            Some(ApiError::new(
                503,
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm \
                 join\" to connect this node to swarm and try again.",
            ))
        }
        _ => None,
    }
}

/// `POST /exec/{id}/start`: detached, it answers at once; attached, the connection is
/// hijacked and carries the process's output until it ends.
fn exec_start(engine: &Arc<Engine>, id: &str, req: &Request) -> ApiResult<Response> {
    let body: api::ExecStartConfig = strict(&optional_json_body(req)?, &[])?;
    if body.detach == Some(true) {
        engine.exec_start(id, None, None, false)?;
        // dockerd's answer: 200 and no body.
        return Ok(Response::text(200, ""));
    }
    // Checked before hijacking, so that an error is still an HTTP answer.
    let created_tty = engine.exec_inspect(id)?["ProcessConfig"]["tty"] == json!(true);
    // As dockerd's: the start's own `Tty` decides whether the output is framed (the SDK sends
    // `"Tty": false` unless told otherwise, and then reads frames); without it, the exec's.
    let tty = body.tty.unwrap_or(created_tty);
    let engine = engine.clone();
    let id = id.to_string();
    Ok(Response::Upgrade {
        content_type: stream_type(tty),
        body: Box::new(move |out, client| {
            engine
                .exec_start(&id, Some(out), Some(client), tty)
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.message))
        }),
    })
}

/// `docker cp`: `HEAD` the stat of a path, `GET` it as a tar, `PUT` a tar into a directory.
fn archive(engine: &Arc<Engine>, id: &str, req: &Request) -> ApiResult<Response> {
    let path = req
        .query("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("path is required"))?;
    let with_stat =
        |stat: &ch03_overlayfs::archive::PathStat, inner: Response| Response::WithHeaders {
            headers: vec![(
                "X-Docker-Container-Path-Stat",
                crate::engine::archive::stat_header(stat),
            )],
            inner: Box::new(inner),
        };
    match req.method.as_str() {
        "HEAD" => {
            let stat = engine.archive_stat(id, path)?;
            Ok(with_stat(&stat, Response::text(200, "")))
        }
        "GET" => {
            // The stat goes in the headers, so it is taken first; then the tar streams.
            let stat = engine.archive_stat(id, path)?;
            let (engine, id, path) = (engine.clone(), id.to_string(), path.to_string());
            let body = Response::stream("application/x-tar", move |out| {
                engine
                    .archive_get(&id, &path, out)
                    .map_err(cut_short("GET /containers/{id}/archive"))
            });
            Ok(with_stat(&stat, body))
        }
        _ => {
            engine.archive_put(id, path, req.take_upload())?;
            Ok(Response::json(200, &json!({})))
        }
    }
}

/// The error of a stream that failed after its `200` went out: only the daemon's log can say
/// why (the client sees the body cut short, its last chunk missing).
fn cut_short(what: &'static str) -> impl Fn(ApiError) -> std::io::Error {
    move |error| {
        eprintln!(
            "baleia daemon: {what}: {} (the answer was cut short)",
            error.message
        );
        std::io::Error::other(error.message)
    }
}

/// `GET /containers/{id}/export`: the container's file system as a tar, streamed.
fn export(engine: &Arc<Engine>, id: &str) -> ApiResult<Response> {
    let id = engine.find(id)?.id().to_string();
    let engine = engine.clone();
    Ok(Response::stream("application/x-tar", move |out| {
        engine
            .export(&id, out)
            .map_err(cut_short("GET /containers/{id}/export"))
    }))
}

/// `GET /containers/{id}/stats`: one sample (`stream=0`), or one a second until the client
/// goes or the container ends.
fn stats(engine: &Arc<Engine>, id: &str, req: &Request) -> ApiResult<Response> {
    let found = engine.find(id)?;
    let first = engine.stats_sample(&found, &json!({}))?;
    if matches!(req.query("stream"), Some("0" | "false")) {
        return Ok(Response::json(200, &first));
    }
    let engine = engine.clone();
    Ok(Response::Stream {
        status: 200,
        content_type: "application/json".into(),
        body: Box::new(move |out| {
            let mut previous = first;
            loop {
                out.write_all(format!("{previous}\n").as_bytes())?;
                out.flush()?;
                std::thread::sleep(std::time::Duration::from_secs(1));
                let Ok(found) = engine.find(found.id()) else {
                    return Ok(());
                };
                match engine.stats_sample(&found, &previous) {
                    Ok(next) => previous = next,
                    Err(_) => return Ok(()),
                }
            }
        }),
    })
}

/// `docker save`: a Docker-format archive (chapter 04), which `docker load` reads too,
/// streamed as it is made.
fn save(engine: &Arc<Engine>, names: &[&str]) -> ApiResult<Response> {
    let images = engine.save_images(names)?;
    let engine = engine.clone();
    Ok(Response::stream("application/x-tar", move |out| {
        engine
            .save(&images, out)
            .map_err(cut_short("GET /images/get"))
    }))
}

/// A JSON body: `400` with serde's words (line, column, what was expected) when it is not
/// JSON or not the expected shape. Fields the engine does not know are ignored, as Docker
/// ignores them: newer clients send more than older engines read.
fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> ApiResult<T> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("a JSON body is required"));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// A body read as Docker's type `T`, refusing keys `T` does not have ([`api::parse_strict`]).
fn strict<T: serde::de::DeserializeOwned + serde::Serialize>(
    body: &Value,
    legacy: &[&str],
) -> ApiResult<T> {
    api::parse_strict(body, legacy).map_err(ApiError::bad_request)
}

/// The same for bodies a client may leave out (`{}` then).
fn optional_json_body(req: &Request) -> ApiResult<Value> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    json_body(req)
}

/// The `filters` query parameter, checked against the keys the endpoint accepts.
fn filters(req: &Request, accepted: &[&str]) -> ApiResult<Filters> {
    Filters::parse(req.query("filters"), accepted)
}

fn version() -> api::SystemVersion {
    let uname = nix::sys::utsname::uname().ok();
    let kernel = uname
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION").to_string();
    let details = [
        ("ApiVersion", API_VERSION),
        ("MinAPIVersion", MIN_API_VERSION),
        ("Os", "linux"),
        ("Arch", std::env::consts::ARCH),
        ("KernelVersion", &kernel),
    ];
    api::SystemVersion {
        platform: Some(api::SystemVersionPlatform {
            name: "baleia".into(),
        }),
        components: Some(vec![api::SystemVersionComponents {
            name: "Engine".into(),
            version: version.clone(),
            details: Some(
                details
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }]),
        version: Some(version),
        api_version: Some(API_VERSION.into()),
        min_api_version: Some(MIN_API_VERSION.into()),
        git_commit: Some(String::new()),
        go_version: Some("rust".into()),
        os: Some("linux".into()),
        arch: Some(go_arch().into()),
        kernel_version: Some(kernel),
        experimental: None,
        build_time: Some(String::new()),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn info(engine: &Engine) -> api::SystemInfo {
    let all = engine.all();
    let running = all.iter().filter(|f| f.running()).count();
    let images = ch04_images::image::list(&engine.store)
        .map(|l| l.len())
        .unwrap_or(0);
    let uname = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into());
    let mem_total: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    let strings = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect());
    let runtime = api::Runtime {
        path: Some(engine.exe.to_string_lossy().into_owned()),
        ..Default::default()
    };
    api::SystemInfo {
        id: Some(String::new()),
        containers: Some(all.len() as i64),
        containers_running: Some(running as i64),
        containers_paused: Some(0),
        containers_stopped: Some((all.len() - running) as i64),
        images: Some(images as i64),
        driver: Some("overlay".into()),
        driver_status: Some(vec![vec![
            "Backing Filesystem".into(),
            "overlayfs layers unpacked by chapter 04".into(),
        ]]),
        plugins: Some(api::PluginsInfo {
            volume: Some(Vec::new()),
            network: Some(Vec::new()),
            authorization: None,
            log: strings(&["json-file"]),
        }),
        memory_limit: Some(true),
        swap_limit: Some(true),
        cpu_cfs_period: Some(true),
        cpu_cfs_quota: Some(true),
        cpu_shares: Some(true),
        pids_limit: Some(true),
        ipv4_forwarding: Some(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|v| v.trim() == "1"),
        ),
        debug: Some(false),
        nfd: Some(0),
        n_goroutines: Some(0),
        system_time: Some(crate::time::rfc3339_nanos(crate::time::now_nanos())),
        logging_driver: Some("json-file".into()),
        cgroup_driver: Some(api::SystemInfoCgroupDriverEnum::CGROUPFS),
        cgroup_version: Some(if engine.cgroup_v2 {
            api::SystemInfoCgroupVersionEnum::_2
        } else {
            api::SystemInfoCgroupVersionEnum::_1
        }),
        kernel_version: Some(field(|u| u.release())),
        operating_system: Some(os),
        os_type: Some("linux".into()),
        architecture: Some(field(|u| u.machine())),
        ncpu: Some(std::thread::available_parallelism().map_or(1, |n| n.get()) as i64),
        mem_total: Some(mem_total as i64),
        index_server_address: Some(String::new()),
        docker_root_dir: Some(engine.root.to_string_lossy().into_owned()),
        name: Some(field(|u| u.nodename())),
        labels: Some(Vec::new()),
        experimental_build: Some(false),
        server_version: Some(env!("CARGO_PKG_VERSION").into()),
        runtimes: Some([("baleia".to_string(), runtime)].into()),
        default_runtime: Some("baleia".into()),
        swarm: Some(api::SwarmInfo {
            local_node_state: Some(api::LocalNodeState::INACTIVE),
            control_available: Some(false),
            ..Default::default()
        }),
        live_restore_enabled: Some(true),
        isolation: Some(api::SystemInfoIsolationEnum::EMPTY),
        init_binary: Some(String::new()),
        security_options: Some(Vec::new()),
        // As dockerd's: what works less well than it should on this host, said once here.
        warnings: Some(
            ch07_volumes_network::network::nat::check()
                .err()
                .map(|unavailable| vec![format!("WARNING: {unavailable}")])
                .unwrap_or_default(),
        ),
        ..Default::default()
    }
}

/// `POST /containers/{id}/wait`: the headers go out at once (clients wait for them before
/// they start the container), the body when the condition is met.
fn wait(engine: &Arc<Engine>, id: &str, req: &Request) -> ApiResult<Response> {
    // exercise capstone.3: one API route end to end: POST /containers/{id}/wait
    let baseline = engine.find(id)?;
    let condition = req.query("condition").unwrap_or("not-running").to_string();
    if !matches!(condition.as_str(), "not-running" | "next-exit" | "removed") {
        return Err(ApiError::bad_request(format!(
            "invalid condition: {condition}"
        )));
    }
    let engine = engine.clone();
    Ok(Response::Stream {
        status: 200,
        content_type: "application/json".into(),
        body: Box::new(move |out| {
            let code = engine.wait(&baseline, &condition);
            let body = api::Wait {
                status_code: code.into(),
                error: None,
            };
            let line = serde_json::to_string(&body).unwrap_or_default();
            out.write_all(format!("{line}\n").as_bytes())
        }),
    })
    // end of exercise capstone.3
}

/// The content type of multiplexed streams (API 1.42 named it; older clients know raw-stream).
fn stream_type(tty: bool) -> String {
    if tty {
        "application/vnd.docker.raw-stream".into()
    } else {
        "application/vnd.docker.multiplexed-stream".into()
    }
}

/// With a terminal there is one stream and no framing: the bytes as the terminal gave them.
fn encode_entry(tty: bool, entry: &logs::Entry, text: &[u8]) -> Vec<u8> {
    if tty {
        text.to_vec()
    } else {
        logs::frame(entry.stream_id(), text)
    }
}

/// `GET /containers/{id}/logs`: from `container.log`, framed; `follow` keeps going until the
/// container ends.
fn container_logs(engine: &Arc<Engine>, id: &str, req: &Request) -> ApiResult<Response> {
    let found = engine.find(id)?;
    let (stdout, stderr) = (req.flag("stdout"), req.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let follow = req.flag("follow");
    let tty = found.record.config.tty;
    let timestamps = req.flag("timestamps");
    let tail: Option<usize> = req.query("tail").and_then(|t| t.parse().ok());
    // `since`/`until`: unix seconds (with a fraction); entries carry RFC 3339 times with nine
    // digits, which compare as text in the same order as in time.
    let bound = |key| -> ApiResult<Option<String>> {
        req.query(key)
            .filter(|v| !v.is_empty() && *v != "0")
            .map(|v| {
                v.parse::<f64>()
                    .map(|s| crate::time::rfc3339_nanos((s * 1e9) as i64))
                    .map_err(|_| {
                        ApiError::bad_request(format!("invalid {key} {v:?}: want unix seconds"))
                    })
            })
            .transpose()
    };
    let (since, until) = (bound("since")?, bound("until")?);
    let engine = engine.clone();
    Ok(Response::Stream {
        status: 200,
        content_type: stream_type(tty),
        body: Box::new(move |out| {
            let path = found.dir.log();
            let mut reader = logs::Reader::open(&path, false);
            let mut first = reader.next_entries(&path);
            if let Some(n) = tail {
                first.drain(..first.len().saturating_sub(n));
            }
            let send = |out: &mut dyn Write, entries: Vec<logs::Entry>| -> std::io::Result<()> {
                let in_time = |e: &logs::Entry| {
                    since.as_ref().is_none_or(|s| e.time >= *s)
                        && until.as_ref().is_none_or(|u| e.time <= *u)
                };
                for entry in entries.into_iter().filter(in_time) {
                    let wanted = if entry.stream_id() == 2 {
                        stderr
                    } else {
                        stdout
                    };
                    if !wanted {
                        continue;
                    }
                    let text = if timestamps {
                        format!("{} {}", entry.time, entry.log)
                    } else {
                        entry.log.clone()
                    };
                    out.write_all(&encode_entry(tty, &entry, text.as_bytes()))?;
                }
                out.flush()
            };
            send(out, first)?;
            if follow {
                loop {
                    let still_running = engine
                        .dir_of(found.id())
                        .read_state()
                        .map(|s| s.status == crate::engine::record::Status::Running)
                        .unwrap_or(false);
                    send(out, reader.next_entries(&path))?;
                    let now = crate::time::rfc3339_nanos(crate::time::now_nanos());
                    if !still_running || until.as_ref().is_some_and(|u| now > *u) {
                        break;
                    }
                    std::thread::sleep(POLL);
                }
            }
            Ok(())
        }),
    })
}

/// `POST /containers/{id}/attach`: hijack the connection and stream the container's output
/// as it is written to its log, from now until its run ends. (No standard input yet.)
fn attach(engine: &Arc<Engine>, id: &str, req: &Request) -> ApiResult<Response> {
    let found = engine.find(id)?;
    engine.container_event("attach", &found.record, json!({}));
    let stdin = req.flag("stdin") && found.record.config.open_stdin;
    let tty = found.record.config.tty;
    let (stdout, stderr) = (req.flag("stdout"), req.flag("stderr"));
    let engine = engine.clone();
    Ok(Response::Upgrade {
        content_type: stream_type(tty),
        body: Box::new(move |out, client| {
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            if stdin {
                let fifo = found.dir.stdin_fifo();
                let done = done.clone();
                std::thread::spawn(move || crate::stdin::forward(client, &fifo, &done));
            }
            let _finished = crate::stdin::SetOnDrop(done);
            let path = found.dir.log();
            let mut reader = logs::Reader::open(&path, true);
            // What the log gained since the last look, on the streams asked for.
            let send_new = |reader: &mut logs::Reader, out: &mut dyn Write| {
                for entry in reader.next_entries(&path) {
                    let wanted = if entry.stream_id() == 2 {
                        stderr
                    } else {
                        stdout
                    };
                    if wanted {
                        out.write_all(&encode_entry(tty, &entry, entry.log.as_bytes()))?;
                    }
                }
                std::io::Result::Ok(())
            };
            let baseline = found.state.clone();
            loop {
                let seen = engine.changes.generation();
                let dir = engine.dir_of(found.id());
                let state = if dir.0.exists() {
                    dir.read_state().ok()
                } else {
                    None
                };
                send_new(&mut reader, &mut *out)?;
                out.flush()?;
                let done = match &state {
                    None => true,
                    Some(s) => {
                        let ended = s.status != crate::engine::record::Status::Running;
                        let next = s.attempts > baseline.attempts
                            || baseline.status == crate::engine::record::Status::Running;
                        ended && next
                    }
                };
                if done {
                    // One last read: the supervisor writes the log before the state.
                    send_new(&mut reader, &mut *out)?;
                    return out.flush();
                }
                // New output is looked for every POLL; the end is seen as soon as it comes.
                engine.changes.wait_after(seen, POLL);
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::no_swarm;

    #[test]
    fn swarm_calls_get_dockerd_s_answer_for_a_node_in_no_swarm() {
        let leave = no_swarm(&["swarm", "leave"]).expect("swarm leave");
        assert_eq!(
            (leave.status, leave.message.as_str()),
            (503, "This node is not part of a swarm")
        );
        for parts in [
            &["swarm"][..],
            &["services", "create"],
            &["nodes"],
            &["secrets", "x"],
        ] {
            let refused = no_swarm(parts).expect("a swarm call");
            assert_eq!(refused.status, 503);
            assert!(
                refused
                    .message
                    .starts_with("This node is not a swarm manager."),
                "{}",
                refused.message
            );
        }
        assert!(no_swarm(&["containers", "json"]).is_none());
    }
}
