"""A realistic session of the Docker SDK for Python (`pip install docker`) against the engine
at DOCKER_HOST: containers, logs, exec, wait, images, networks, volumes, events, prunes by
label. Driven by tests/tests/capstone_sdk.rs; each step prints `ok: <step>`, and the first
surprise fails with an AssertionError naming it.

Environment: DOCKER_HOST, SDK_MARK (a label value of this run's own), SDK_BRIDGE (a bridge
name the test owns, at most 15 bytes), SDK_SUBNET (a free /24 for it).
"""

import os
import time

import docker
from docker.types import IPAMConfig, IPAMPool

mark = os.environ["SDK_MARK"]
label = {"sdk.test": mark}
by_label = {"label": f"sdk.test={mark}"}
client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="1.41", timeout=60)
created = []  # containers to remove at the end, whatever happens


def step(name):
    print(f"ok: {name}", flush=True)


def until(what, done, seconds=15):
    deadline = time.time() + seconds
    while not done():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


try:
    assert client.ping()
    start = int(time.time())
    version = client.version()
    assert version["ApiVersion"], version
    step("ping, version")

    # Images: the local busybox, by reference and by the dangling filter.
    images = client.images.list(filters={"reference": "busybox"})
    assert any("busybox:latest" in i.tags for i in images), images
    assert client.images.list(filters={"reference": "no-such-image"}) == []
    assert client.images.list(filters={"dangling": True}) == []
    image = client.images.get("busybox")
    assert image.id.startswith("sha256:"), image.id
    step("images.list with filters, images.get")

    # A detached container with labels: logs, exec, list by label, stop, wait.
    web = client.containers.run(
        "busybox",
        ["sh", "-c", "echo hello; echo oops >&2; exec sleep 60"],
        detach=True,
        labels=label,
        name=f"sdk-web-{mark}",
        environment={"GREETING": "hi"},
    )
    created.append(web)
    web.reload()
    assert web.status == "running", web.status
    assert web.labels == label, web.labels
    until("the log lines", lambda: b"oops" in web.logs())
    assert web.logs(stdout=True, stderr=False) == b"hello\n", web.logs(stderr=False)
    assert web.logs(stdout=False, stderr=True) == b"oops\n", web.logs(stdout=False)
    step("containers.run(detach, labels), logs")

    code, output = web.exec_run(["sh", "-c", "echo $GREETING"])
    assert (code, output) == (0, b"hi\n"), (code, output)
    code, output = web.exec_run("sh -c 'echo bad >&2; exit 3'")
    assert code == 3 and output == b"bad\n", (code, output)
    code, (out, err) = web.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert (code, out, err) == (0, b"o\n", b"e\n"), (code, out, err)
    step("exec_run (exit codes, demux)")

    other = client.containers.create("busybox", "true", name=f"sdk-other-{mark}")
    created.append(other)
    listed = client.containers.list(filters=by_label)
    assert [c.id for c in listed] == [web.id], listed
    listed = client.containers.list(all=True, filters={"label": "sdk.test", "name": "sdk-"})
    assert [c.id for c in listed] == [web.id], listed
    both = client.containers.list(all=True, filters={"name": f"sdk-.*-{mark}"})
    assert sorted(c.id for c in both) == sorted([web.id, other.id]), both
    assert client.containers.list(filters={"status": "exited"}) == []
    step("containers.list with filters")

    web.stop(timeout=1)
    result = web.wait(timeout=30)
    assert result["StatusCode"] == 137, result
    web.reload()
    assert web.status == "exited", web.status
    assert web.attrs["State"]["ExitCode"] == 137, web.attrs["State"]
    short = client.containers.run("busybox", ["sh", "-c", "exit 7"], detach=True, labels=label)
    created.append(short)
    assert short.wait(timeout=30)["StatusCode"] == 7
    out = client.containers.run("busybox", ["echo", "attached"], remove=True)
    assert out == b"attached\n", out
    try:
        client.containers.run("busybox", ["sh", "-c", "echo no; exit 2"], remove=True)
        raise AssertionError("a failing run must raise ContainerError")
    except docker.errors.ContainerError as e:
        assert e.exit_status == 2, e
    step("stop, wait (137, 7), run(remove) with output, ContainerError")

    # Networks: create with labels and a subnet, list by label, connect/disconnect.
    net = client.networks.create(
        f"sdk-net-{mark}",
        driver="bridge",
        labels=label,
        options={"com.docker.network.bridge.name": os.environ["SDK_BRIDGE"]},
        ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=os.environ["SDK_SUBNET"])]),
    )
    try:
        assert [n.id for n in client.networks.list(filters=by_label)] == [net.id]
        assert client.networks.list(names=[f"sdk-net-{mark}"])[0].id == net.id
        # baleia puts a container on one network at a time (docs/compat.md): off the
        # default one first, which is also what a client that moves a container does.
        client.networks.get("bridge").disconnect(other)
        net.connect(other, aliases=["db"])
        net.reload()
        # A stopped container has no endpoint yet: the network lists running ones only, as
        # Docker's does; the container's own inspect shows the connection.
        assert net.containers == [], net.containers
        other.reload()
        endpoint = other.attrs["NetworkSettings"]["Networks"][f"sdk-net-{mark}"]
        assert "db" in endpoint["Aliases"], endpoint
        net.disconnect(other)
        other.reload()
        assert f"sdk-net-{mark}" not in other.attrs["NetworkSettings"]["Networks"]
        pinger = client.containers.run(
            "busybox",
            ["sh", "-c", "ip -4 -o addr show eth0"],
            network=f"sdk-net-{mark}",
            detach=True,
            labels=label,
        )
        created.append(pinger)
        assert pinger.wait(timeout=30)["StatusCode"] == 0
        subnet_prefix = os.environ["SDK_SUBNET"].rsplit(".", 1)[0] + "."
        assert subnet_prefix in pinger.logs().decode(), pinger.logs()
        pinger.remove()
        created.remove(pinger)
    finally:
        net.remove()
    assert client.networks.list(filters=by_label) == []
    step("networks.create(labels, ipam), list, connect/disconnect, run on it, remove")

    # Volumes: create with labels, list by label, write from one container, read in another.
    volume = client.volumes.create(f"sdk-vol-{mark}", labels=label)
    assert [v.name for v in client.volumes.list(filters=by_label)] == [volume.name]
    mounts = {volume.name: {"bind": "/data", "mode": "rw"}}
    out = client.containers.run(
        "busybox", ["sh", "-c", "echo kept > /data/f"], volumes=mounts, remove=True
    )
    out = client.containers.run("busybox", ["cat", "/data/f"], volumes=mounts, remove=True)
    assert out == b"kept\n", out
    volume.remove()
    assert client.volumes.list(filters=by_label) == []
    try:
        client.volumes.get(volume.name)
        raise AssertionError("a removed volume must be NotFound")
    except docker.errors.NotFound:
        pass
    step("volumes.create(labels), list, use, remove")

    # Events of this run's labelled containers only, between start and now, decoded by the
    # SDK as a user would: it reads the chunked stream one JSON message at a time.
    events = list(
        client.events(since=start, until=int(time.time()) + 1, filters=by_label, decode=True)
    )
    assert len(events) >= 2 and all(isinstance(e, dict) for e in events), events
    ids = {e["Actor"]["ID"] for e in events if e.get("Type") == "container"}
    assert {web.id, short.id} <= ids, (ids, events)
    assert other.id not in ids, "an unlabelled container's events passed the label filter"
    actions = [e["Action"] for e in events if e["Actor"]["ID"] == web.id]
    for wanted in ["create", "start", "die"]:
        assert wanted in actions, (wanted, actions)
    assert all(e["Actor"]["Attributes"]["sdk.test"] == mark for e in events), events
    step("events with a label filter")

    # Prune by label: this run's stopped containers go, the unlabelled one stays.
    pruned = client.containers.prune(filters=by_label)
    assert sorted(pruned["ContainersDeleted"] or []) == sorted([web.id, short.id]), pruned
    other.reload()
    created[:] = [other]
    step("containers.prune with a label filter")

    # Errors: unknown ids and bad filters.
    try:
        client.containers.get("no-such-container-" + mark)
        raise AssertionError("expected NotFound")
    except docker.errors.NotFound:
        pass
    try:
        client.containers.list(filters={"colour": "red"})
        raise AssertionError("an unknown filter must be refused")
    except docker.errors.APIError as e:
        assert e.status_code == 400 and "colour" in str(e), e
    step("NotFound, a bad filter refused")
finally:
    for container in created:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
    client.close()
print("sdk session passed")
