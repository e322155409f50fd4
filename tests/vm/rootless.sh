#!/bin/bash
# The chapters as an ordinary user, where most users are: inside the guest of scripts/vm
# (Debian 12, systemd, pure cgroup v2), with the binaries built on the host in target/debug.
# Run it from the repository as root:
#
#   scripts/vm run -- bash tests/vm/rootless.sh
#
# It installs uidmap (newuidmap, newgidmap), makes baleia-learner with subordinate ids
# (scripts/learner-user), lets it linger (`loginctl enable-linger`: systemd starts its user
# manager, user@UID.service, without a login), and runs the chapters as that user: outside
# the delegated subtree (as from a login shell's session scope), then inside it through
# `systemd-run --user --scope`. It prints what systemd delegates, and a line per check.
set -u
export PATH=$PWD/target/debug:$PATH
passed=0 failed=0
# shellcheck source=tests/vm/checks.sh
. "$(dirname "$0")/checks.sh"

echo "== the host"
expect "cgroup v2 is mounted at /sys/fs/cgroup" '^cgroup2fs$' stat -fc %T /sys/fs/cgroup
expect "the kernel mounts overlayfs in a user namespace (5.11 or later)" '^(5\.(1[1-9]|[2-9][0-9])|[6-9]\.)' uname -r
# uidmap (newuidmap, newgidmap) for the subordinate ids; libpam-systemd and dbus-user-session,
# which a standard Debian 12 install has and debootstrap's minimal one lacks: without the first
# a lingering user's manager gets no $XDG_RUNTIME_DIR and does not start, without the second
# `systemd-run --user` finds no bus.
for package in libsubid4 uidmap libpam-systemd dbus-user-session; do
    dpkg -i /mnt/vm/debs-suite/"${package}"_*.deb >>/tmp/dpkg-rootless.log 2>&1 \
        || echo "   could not install $package: $(tail -n 1 /tmp/dpkg-rootless.log)"
done
check "newuidmap and newgidmap are installed" command -v newuidmap newgidmap
check "pam_systemd is installed (a user's manager gets its runtime directory)" \
    bash -c 'ls /lib/*/security/pam_systemd.so /lib/security/pam_systemd.so 2>/dev/null | grep -q .'

echo "== the user"
user=$(scripts/learner-user)
uid=$(id -u "$user")
check "$user has subordinate ids" grep -q "^$user:" /etc/subuid /etc/subgid
loginctl enable-linger "$user"
for _ in $(seq 100); do
    systemctl is-active --quiet "user@$uid.service" && break
    sleep 0.2
done
if ! check "lingering starts user@$uid.service" systemctl is-active "user@$uid.service"; then
    systemctl status "user@$uid.service" --no-pager 2>&1 | tail -n 15 | sed 's/^/       /'
    journalctl -b --no-pager -u "user@$uid.service" 2>&1 | tail -n 15 | sed 's/^/       /'
    ls -la /run/user 2>&1 | sed 's/^/       /'
    dpkg -l libpam-systemd dbus-user-session 2>&1 | tail -n 2 | sed 's/^/       /'
fi
service=/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service
echo "   delegated to $user: $service, owned by $(stat -c %U "$service" 2>/dev/null)"
echo "   its controllers: $(cat "$service/cgroup.controllers" 2>/dev/null)"
echo "   enabled for its children: $(cat "$service/cgroup.subtree_control" 2>/dev/null)"
expect "user@$uid.service is the user's own (delegated)" "^$user\$" stat -c %U "$service"
expect "memory and pids are delegated" 'memory.*pids|pids.*memory' cat "$service/cgroup.controllers"

home=$(getent passwd "$user" | cut -d: -f6)
# as_user CMD...: as the user, in a clean environment with its runtime directory and the bus of
# its user manager (what a login gives), from its home.
as_user() {
    (cd "$home" && runuser -u "$user" -- env -i HOME="$home" USER="$user" \
        PATH="$PWD/target/debug:/usr/bin:/bin" XDG_RUNTIME_DIR="/run/user/$uid" \
        DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@")
}
# in_scope CMD...: the same, in a transient scope of the user's manager: inside the delegated
# subtree, where the user may make cgroups and move its processes.
in_scope() { as_user systemd-run --user --scope --quiet "$@"; }
bin=$PWD/target/debug
rm -rf "$home/img"
as_user mkdir -p "$home/img/bin" "$home/img/tmp"
as_user cp /bin/busybox "$home/img/bin/"
for applet in sh id cat grep echo true head tail dd; do as_user ln -sf busybox "$home/img/bin/$applet"; done

echo "== chapter 01"
expect "the map has the user's range" "^ +1 +[0-9]+ +65536" as_user "$bin/ch01-namespaces" run --user -- cat /proc/self/uid_map
expect "chown to another id works inside" '^1000$' \
    as_user "$bin/ch01-namespaces" run --user --mount --privileged -- sh -c 'mount -t tmpfs none /mnt && touch /mnt/f && chown 1000 /mnt/f && stat -c %u /mnt/f'

echo "== chapter 03 outside the delegated subtree (as from a login session)"
expect "an overlay root in a user namespace" '^0$' \
    as_user "$bin/ch03-overlayfs" run --user --image-dir "$home/img" -- id -u
expect "limits are refused, naming the missing delegation" 'no delegated cgroup v2 subtree' \
    as_user "$bin/ch03-overlayfs" run --user --memory 64m --image-dir "$home/img" -- true

echo "== chapter 03 inside the delegated subtree (systemd-run --user --scope)"
expect "the container's cgroup is under user@$uid.service" "user@$uid.service/baleia/" \
    in_scope "$bin/ch03-overlayfs" run --user --memory 64m --pids-limit 50 --image-dir "$home/img" -- cat /proc/self/cgroup
expect "the memory limit holds: the OOM killer ends the container (137)" 'exit 137' \
    in_scope bash -c "'$bin/ch03-overlayfs' run --user --memory 16m --image-dir '$home/img' -- sh -c 'head -c 64m /dev/zero | tail'; echo exit \$?"
expect "the pids limit holds: forks past it fail" "can't fork|Resource temporarily unavailable" \
    in_scope "$bin/ch03-overlayfs" run --user --pids-limit 5 --image-dir "$home/img" -- sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'
check "no cgroup is left under user@$uid.service/baleia" bash -c "[ -z \"\$(find '$service/baleia' -mindepth 1 -type d 2>/dev/null)\" ]"

echo "== the engine, from outside the delegated subtree (the client starts the daemon in a scope)"
rm -rf "$home/.local/share/baleia" "/run/user/$uid/baleia"
as_user tar -C "$home/img" -cf "$home/busybox.tar" .
as_user "$bin/baleia" import "$home/busybox.tar" busybox >/dev/null 2>/tmp/engine-start.log
daemon=$(sed -n 's/.*background (pid \([0-9]*\),.*/\1/p' /tmp/engine-start.log)
check "the client started the user's daemon" test -n "$daemon"
expect "the daemon runs in a scope of user@$uid.service" "user@$uid.service/" cat "/proc/$daemon/cgroup"
expect "a container runs as the user (--network none)" '^hi$' \
    as_user "$bin/baleia" run --rm --network none busybox echo hi
expect "its cgroup (its own root, in its cgroup namespace) has the memory limit" '^67108864$' \
    as_user "$bin/baleia" run --rm --network none --memory 64m busybox cat /sys/fs/cgroup/memory.max
as_user "$bin/baleia" run -d --network none busybox tail -f /dev/null >/dev/null
expect "its cgroup is under user@$uid.service/baleia" "^$service/baleia/[0-9a-f]+$" \
    find "$service/baleia" -mindepth 1 -maxdepth 1 -type d
# shellcheck disable=SC2046
as_user "$bin/baleia" rm -f $(as_user "$bin/baleia" ps -aq) >/dev/null 2>&1
expect "the memory limit holds: the OOM killer ends the container (137)" 'exit 137' \
    as_user bash -c "'$bin/baleia' run --rm --network none --memory 16m busybox sh -c 'head -c 64m /dev/zero | tail'; echo exit \$?"
expect "the default bridge is refused, saying what works" 'cannot make bridges.*--network none' \
    as_user "$bin/baleia" run --rm busybox true
[ -n "$daemon" ] && kill "$daemon"
check "no cgroup is left under user@$uid.service/baleia" bash -c "[ -z \"\$(find '$service/baleia' -mindepth 1 -type d 2>/dev/null)\" ]"

loginctl disable-linger "$user"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
