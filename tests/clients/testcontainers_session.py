"""A testcontainers-python session against the engine at DOCKER_HOST: a generic
DockerContainer on the local busybox image, a wait strategy on its log, exec, and the
container gone at the end of the `with` block. Driven by tests/tests/capstone_sdk.rs.

testcontainers' reaper (the `testcontainers/ryuk` image) cannot be pulled here (no
internet), so the test runs with TESTCONTAINERS_RYUK_DISABLED=true: the `with` block's stop
removes the container instead.
"""

import os
import time
import urllib.request

import docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

assert os.environ.get("TESTCONTAINERS_RYUK_DISABLED") == "true"
mark = os.environ["SDK_MARK"]
client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="1.41")

server = "mkdir /www; echo page > /www/index.html; echo ready; exec httpd -f -p 80 -h /www"
container = (
    DockerContainer("busybox:latest")
    .with_command(["sh", "-c", "echo starting; sleep 1; " + server])
    .with_env("WHO", "testcontainers")
    .with_name(f"tc-{mark}")
    .with_exposed_ports(80)
    .waiting_for(LogMessageWaitStrategy("ready"))
)
with container:
    print("ok: started, LogMessageWaitStrategy saw 'ready'", flush=True)
    code, output = container.exec(["sh", "-c", "echo hello $WHO"])
    assert (code, output) == (0, b"hello testcontainers\n"), (code, output)
    print("ok: exec", flush=True)
    stdout, stderr = container.get_logs()
    assert stdout == b"starting\nready\n" and stderr == b"", (stdout, stderr)
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    assert wrapped.status == "running", wrapped.status
    labels = wrapped.labels
    assert any(k.startswith("org.testcontainers") for k in labels), labels
    print(f"ok: labels {sorted(labels)}", flush=True)
    host = container.get_container_host_ip()
    assert host, host
    print(f"ok: container host ip {host}", flush=True)
    port = container.get_exposed_port(80)
    url = f"http://127.0.0.1:{port}/index.html"
    deadline = time.time() + 10
    while True:
        try:
            page = urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            assert time.time() < deadline, f"nothing answers on {url}"
            time.sleep(0.1)
    assert page == b"page\n", page
    print(f"ok: published port {port} answers", flush=True)
    container_id = wrapped.id

# Without the reaper, leaving the block stops and removes the container.
try:
    client.containers.get(container_id)
    raise AssertionError("testcontainers left its container behind")
except docker.errors.NotFound:
    pass
print("ok: removed on exit", flush=True)
print("testcontainers session passed")
