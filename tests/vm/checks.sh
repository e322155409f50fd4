# The checks the guest scripts share (sourced by smoke.sh and rootless.sh): each prints "ok"
# or "FAIL" with what was expected and what happened, and counts in $passed and $failed.
passed=${passed:-0} failed=${failed:-0}

# check NAME COMMAND...: COMMAND must succeed; its output is shown when it does not.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        echo "$out" | sed 's/^/       /'
        failed=$((failed + 1))
        return 1
    fi
}
# expect NAME PATTERN COMMAND...: COMMAND's output (stdout and stderr) must match PATTERN.
expect() {
    local name=$1 pattern=$2 out
    shift 2
    out=$("$@" 2>&1)
    if echo "$out" | grep -Eq -- "$pattern"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (expected /$pattern/)"
        echo "$out" | sed 's/^/       /'
        failed=$((failed + 1))
    fi
}
