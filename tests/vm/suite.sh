#!/bin/bash
# The full guest suite: every test executable built on the host, run inside the guest of
# `scripts/vm suite` (Debian 12, systemd, pure cgroup v2), after installing the packages the
# tests drive (iptables, iproute2 and the peers: skopeo, podman, runc, umoci, the registry).
# The lesson runner (scripts/lessons) is one of them: tests/tests/lessons.rs.
# Writes /mnt/vm/out/suite.md: every test with ok, FAILED or ignored, and the reason for those
# that cannot pass here (tests/vm/known-guest-failures.txt). Exits non-zero if a test failed
# that is not listed there.
set -u
export PATH=$PWD/target/debug:/mnt/vm:$PATH
# insta finds the snapshots from the workspace root, which it asks cargo for: there is no
# cargo in the guest. And a guest never writes .snap.new files into the repository.
export INSTA_WORKSPACE_ROOT=$PWD INSTA_UPDATE=no
out=/mnt/vm/out
known=tests/vm/known-guest-failures.txt

echo "== installing the test packages"
dpkg -i /mnt/vm/debs/*.deb /mnt/vm/debs-suite/*.deb >/tmp/dpkg.log 2>&1 || {
    tail -20 /tmp/dpkg.log
    echo "some packages did not install: the tests that need them will say so"
}
# Debian's docker-registry package starts its own registry on port 5000 at install; the tests
# and chapter 06's lesson start theirs there.
systemctl disable --now docker-registry >/dev/null 2>&1 || true

results=/tmp/results.txt
: >"$results"
while read -r exe; do
    [ -x "$exe" ] || continue
    # A crate's unit tests and its integration tests share a name: the hash tells them apart.
    log=$(basename "$exe").log
    name=$(basename "$exe" | sed 's/-[0-9a-f]*$//')
    echo "== $name ($log)"
    started=$SECONDS
    "$exe" --test-threads 2 2>&1 | tee "$out/$log" | grep -E '^test .* \.\.\. |^test result' || true
    echo "   ($((SECONDS - started)) s)"
    sed -nE "s/^test (.*) \.\.\. (ok|FAILED|ignored.*)$/$name \1 \2/p" "$out/$log" >>"$results"
done </mnt/vm/tests.txt

unexpected=0
{
    echo "| test | result | why it cannot pass in the guest |"
    echo "|---|---|---|"
    while read -r file test result; do
        reason=$(awk -v t="$file::$test" '$1 == t { $1 = ""; sub(/^ /, ""); print }' "$known")
        if [ "$result" = FAILED ] && [ -z "$reason" ]; then unexpected=$((unexpected + 1)); fi
        echo "| \`$file::$test\` | $result | $reason |"
    done <"$results"
} >"$out/suite.md"
total=$(wc -l <"$results")
ok=$(grep -c ' ok$' "$results")
failed=$(grep -c ' FAILED$' "$results")
ignored=$((total - ok - failed))
echo "$ok passed, $failed failed, $ignored skipped"
echo "($unexpected failures not listed in $known)"
[ "$unexpected" -eq 0 ]
