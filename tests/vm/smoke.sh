#!/bin/bash
# The VM smoke suite: what a new user does first, on the host most users have. Runs inside the
# guest of `scripts/vm smoke` (Debian 12, systemd, pure cgroup v2, no iptables, no iproute2),
# in the repository, with the binaries built on the host in target/debug.
#
# Each check prints "ok" or "FAIL" with what was expected and what happened; the last line is
# the count, and the exit status says whether all passed.
set -u
export PATH=$PWD/target/debug:$PATH
DOCKER=/mnt/vm/docker
SOCK=unix:///run/baleia/baleia.sock
passed=0 failed=0

# shellcheck source=tests/vm/checks.sh
. "$(dirname "$0")/checks.sh"
bridges() { for d in /sys/class/net/*/bridge; do [ -d "$d" ] && basename "$(dirname "$d")"; done; }
# The pid of the daemon a client started, from its "started one in the background (pid N" line.
started_pid() { grep -o 'background (pid [0-9]*' "$1" | tail -1 | grep -o '[0-9]*$'; }

echo "== the host"
expect "cgroup v2 is mounted at /sys/fs/cgroup" '^cgroup2fs$' stat -fc %T /sys/fs/cgroup
expect "systemd is PID 1" '^systemd$' cat /proc/1/comm
check "iptables is absent, as on a fresh Debian 12" bash -c '! command -v iptables'
check "iproute2 is absent, as on a fresh Debian 12" bash -c '! command -v ip'

echo "== a first run, as the README says"
baleia run hello-world >/tmp/first.log 2>&1
expect "baleia run hello-world starts a daemon and runs" 'Hello from baleia' cat /tmp/first.log
daemons=$(started_pid /tmp/first.log)
expect "...and says what is missing without iptables" 'iptables' cat /var/lib/baleia/daemon.log
check "a second run needs no new daemon" baleia run --rm hello-world

echo "== a crashed first attempt, then a second one"
root=/var/lib/baleia-crash
before=$(bridges)
baleia --root "$root" -H unix:///run/baleia-crash.sock run hello-world >/tmp/crash.log 2>&1 &
client=$!
# Kill the daemon as soon as it has made its bridge: the worst moment for a first run.
for _ in $(seq 200); do
    [ "$(bridges)" != "$before" ] && break
    sleep 0.05
done
pid=$(started_pid /tmp/crash.log)
[ -n "$pid" ] && kill -9 "$pid"
wait "$client"
baleia --root "$root" -H unix:///run/baleia-crash.sock run --rm hello-world >/tmp/crash2.log 2>&1
expect "after the crash, the same command works" 'Hello from baleia' cat /tmp/crash2.log
daemons="$daemons $(started_pid /tmp/crash2.log)"

echo "== an image to play with: busybox from the guest's busybox-static"
rm -rf /tmp/bb && mkdir -p /tmp/bb/bin /tmp/bb/etc /tmp/bb/tmp && cp /bin/busybox /tmp/bb/bin/
for applet in $(/bin/busybox --list-full); do
    mkdir -p "/tmp/bb/$(dirname "$applet")"
    [ -e "/tmp/bb/$applet" ] || ln -s /bin/busybox "/tmp/bb/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >/tmp/bb/etc/passwd
(cd /tmp/bb && busybox tar -cf /tmp/busybox.tar .)
check "import busybox" baleia import /tmp/busybox.tar busybox --change 'CMD ["sh"]'

echo "== limits, one per controller"
baleia run --name hog -m 32m busybox sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived' >/dev/null 2>&1
expect "memory: the hog is killed (exit 137)" '"ExitCode": 137' baleia inspect hog
expect "memory: OOM is reported" '"OOMKilled": true' baleia inspect hog
baleia rm hog >/dev/null
expect "memory: memory.max inside is the limit" '^33554432$' baleia run --rm -m 32m busybox cat /sys/fs/cgroup/memory.max
expect "cpu: --cpus 0.5 is cpu.max 50000 100000" '^50000 100000$' baleia run --rm --cpus 0.5 busybox cat /sys/fs/cgroup/cpu.max
expect "pids: the 9th process cannot fork" "can't fork|Resource temporarily unavailable" \
    baleia run --rm --pids-limit 8 busybox sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; wait'
baleia run -d --name st busybox sleep 300 >/dev/null
expect "stats report the container's memory" 'st .*[0-9.]+ ?[kKMG]i?B' baleia stats --no-stream st

echo "== where the containers' cgroups sit under systemd"
id=$(baleia inspect st | grep -o '"Id": "[0-9a-f]*"' | head -1 | cut -d'"' -f4)
expect "the container's cgroup is /baleia/<id>, beside system.slice" '^[0-9]+$' cat "/sys/fs/cgroup/baleia/$id/cgroup.procs"
check "systemd reloads without touching it" systemctl daemon-reload
expect "...and the container is still in it" '^[0-9]+$' cat "/sys/fs/cgroup/baleia/$id/cgroup.procs"
baleia rm -f st >/dev/null

echo "== device rules"
# The guest's disk is virtio-blk, block major 254: root in a container may make the node
# (CAP_MKNOD, as in Docker) but the device rules must refuse to open it.
baleia run --rm busybox sh -c 'mknod /tmp/vda b 254 0 && echo made; head -c 16 /tmp/vda | wc -c' >/tmp/mknod.log 2>&1
check "mknod of the host's disk works, as in Docker" grep -qx made /tmp/mknod.log
expect "...and reading it is refused" 'Operation not permitted|Permission denied' cat /tmp/mknod.log
check "/dev/null, /dev/zero, /dev/urandom work" \
    baleia run --rm busybox sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c'

echo "== the docker CLI against the daemon"
if [ -x "$DOCKER" ]; then
    check "docker run -d" "$DOCKER" -H "$SOCK" run -d --name dk busybox sh -c 'echo from-docker; sleep 300'
    expect "docker ps" ' dk$' "$DOCKER" -H "$SOCK" ps
    expect "docker logs" 'from-docker' "$DOCKER" -H "$SOCK" logs dk
    check "docker stop" "$DOCKER" -H "$SOCK" stop -t 1 dk
    check "docker rm" "$DOCKER" -H "$SOCK" rm dk
else
    echo "skip the docker CLI: the host has no static docker binary to lend the guest"
fi

echo "== the README's web example"
check "web1" baleia run -d --name web1 -p 127.0.0.1:8080:80 busybox httpd -f -p 80 -h /etc
check "web2" baleia run -d --name web2 -p 127.0.0.1:8081:80 busybox httpd -f -p 80 -h /etc
expect "web1 answers with its host name" '^[0-9a-f]{12}$' busybox wget -qO- http://127.0.0.1:8080/hostname
expect "web2 answers with its host name" '^[0-9a-f]{12}$' busybox wget -qO- http://127.0.0.1:8081/hostname
check "stop and remove them" baleia rm -f web1 web2

echo "== with iptables installed"
check "install iptables and iproute2" bash -c 'dpkg -i /mnt/vm/debs/*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; false; }'
check "a user network" baleia network create --subnet 10.213.1.0/24 smokenet
check "a server on it" baleia run -d --name srv --network smokenet busybox httpd -f -p 80 -h /etc
expect "a client finds it by name" '^[0-9a-f]{12}$' baleia run --rm --network smokenet busybox wget -qO- http://srv:80/hostname
check "remove both" bash -c 'baleia rm -f srv && baleia network rm smokenet'

echo "== chapter 02's lesson, whose v2 blocks run only on a host like this one"
check "scripts/lessons chapters/02-cgroups/README.md" scripts/lessons chapters/02-cgroups/README.md

echo "== nothing left behind"
baleia rm -f $(baleia ps -aq) >/dev/null 2>&1
for p in $daemons; do kill "$p"; done
sleep 1
expect "no container cgroup is left" '^$' bash -c 'find /sys/fs/cgroup/baleia -mindepth 1 -type d 2>/dev/null'
expect "no veth is left" '^$' bash -c 'ip -o link show type veth'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
