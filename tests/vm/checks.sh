# The checks the guest scripts share (sourced by smoke.sh and rootless.sh): each prints "ok"
# or "FAIL" with what was expected and what happened, and counts in $passed and $failed.
passed=${passed:-0} failed=${failed:-0}

# verdict NAME OK OUTPUT: count and print one check's outcome; OUTPUT is shown on failure.
verdict() {
    if [ "$2" = ok ]; then
        echo "ok   $1"
        passed=$((passed + 1))
        return 0
    fi
    echo "FAIL $1"
    echo "$3" | sed 's/^/       /'
    failed=$((failed + 1))
    return 1
}
# check NAME COMMAND...: COMMAND must succeed; its output is shown when it does not.
check() {
    local name=$1 out result=ok
    shift
    out=$("$@" 2>&1) || result=fail
    verdict "$name" "$result" "$out"
}
# expect NAME PATTERN COMMAND...: COMMAND's output (stdout and stderr) must match PATTERN.
expect() {
    local name=$1 pattern=$2 out result=ok
    shift 2
    out=$("$@" 2>&1)
    echo "$out" | grep -Eq -- "$pattern" || result=fail
    verdict "$name$([ $result = ok ] || echo " (expected /$pattern/)")" "$result" "$out"
}
