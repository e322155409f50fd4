"""Turn hyperfine's JSON exports into docs/benchmarks.md: medians, ratios, machine, versions."""

import json
import os
import platform
import statistics
import subprocess
import sys


def version(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        return out.strip().splitlines()[0]
    except Exception:
        return "not found"


def cgroup_mode():
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[1] == "/sys/fs/cgroup":
                return "v2 (unified)" if fields[2] == "cgroup2" else "v1 / hybrid"
    return "unknown"


def scale_section(scale):
    """Memory (targets: daemon idle RSS ≤ 15 MiB, each supervisor ≤ 2 MiB) and 100 containers."""
    mib = lambda kib: f"{kib / 1024:.1f} MiB"
    idle, busy, shim = scale["daemon_idle_kib"], scale["daemon_with_100_kib"], scale["shim_median_kib"]
    left = scale["leftovers_after"]
    clean = all(v == scale["leftovers_before"][k] for k, v in left.items())
    return [
        "",
        "## Memory and scale",
        "",
        "RSS counts every page a process has mapped, including the code pages it shares with",
        "every other `baleia` process through the page cache; PSS divides shared pages among",
        "their users; private is what the process alone holds (proc(5), smaps_rollup).",
        "",
        "| what | RSS | PSS | private | target |",
        "|---|---|---|---|---|",
        f"| daemon, no container | {mib(idle['rss'])} | {mib(idle['pss'])} | {mib(idle['private'])} | RSS ≤ 15 MiB |",
        f"| daemon, {scale['count']} containers | {mib(busy['rss'])} | {mib(busy['pss'])} | {mib(busy['private'])} | |",
        f"| one supervisor (median of {scale['shims_seen']}) | {mib(shim['rss'])} | {mib(shim['pss'])} | {mib(shim['private'])} | RSS ≤ 2 MiB |",
        "",
        f"- {scale['count']} detached `sleep` containers on the default bridge, started one after",
        f"  another by the client: {scale['start_total_s']:.2f} s, {scale['start_per_container_ms']:.1f} ms each.",
        f"- `ps` with {scale['count']} containers: {scale['ps_ms']:.1f} ms (median of 10).",
        f"- `rm -f` of all {scale['count']}: {scale['remove_total_s']:.2f} s.",
        f"- Left behind afterwards: {'nothing' if clean else left} (supervisors, container",
        "  directories, mounts, cgroups, veths; the daemon's open descriptors "
        f"{scale['daemon_fds_before']} → {scale['daemon_fds_after']}).",
    ]


def main(results, output):
    rows = []
    with open(os.path.join(results, "pairs.tsv")) as pairs:
        for line in pairs:
            name, target, ours, theirs = line.rstrip("\n").split("\t")
            times = {"baleia": [], "peer": []}
            for round_file in sorted(os.listdir(results)):
                if round_file.startswith(name + ".") and round_file.endswith(".json"):
                    for result in json.load(open(os.path.join(results, round_file)))["results"]:
                        times[result["command"]].extend(result["times"])
            baleia, peer = statistics.median(times["baleia"]), statistics.median(times["peer"])
            rows.append((name, target, ours, theirs, baleia, peer, baleia / peer))
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run` (as root): the same busybox image for every tool, each pair timed",
        "by hyperfine in one run, in rounds that alternate which tool goes first (warm-up each",
        "round). Medians of all runs; ratio = baleia / peer (below 1: baleia is faster). Targets",
        "are the project's speed goals (the column `target`), not timed tests.",
        "",
        f"Machine: {os.cpu_count()} cores, kernel {platform.release()}, cgroups {cgroup_mode()}.",
        "",
        "| work | baleia | peer | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for name, target, _ours, _theirs, baleia, peer, ratio in rows:
        lines.append(f"| {name} | {baleia * 1000:.1f} ms | {peer * 1000:.1f} ms | {ratio:.2f}× | {target} |")
    scale_file = os.path.join(results, "scale.json")
    if os.path.exists(scale_file):
        lines += scale_section(json.load(open(scale_file)))
    leaks_file = os.path.join(results, "leaks.txt")
    if os.path.exists(leaks_file):
        text = open(leaks_file).read()
        runs = [l for l in text.splitlines() if " runs in " in l]
        verdict = "nothing left behind" if text.rstrip().endswith("passed") else "LEAKED (see the run's output)"
        lines += ["", f"Leak run (`run_rm_cycles_leave_nothing_behind`, 1,000 cycles): {runs[-1] if runs else '?'}; {verdict}."]
    lines += ["", "## Commands timed", ""]
    for name, _target, ours, theirs, *_ in rows:
        lines += [f"- **{name}**", f"  - baleia: `{ours}`", f"  - peer: `{theirs}`"]
    lines += ["", "## Versions", ""]
    for tool, command in [
        ("runc", ["runc", "--version"]),
        ("crun", ["crun", "--version"]),
        ("podman", ["podman", "--version"]),
        ("buildah", ["buildah", "--version"]),
        ("skopeo", ["skopeo", "--version"]),
        ("hyperfine", ["hyperfine", "--version"]),
        ("rustc", ["rustc", "--version"]),
    ]:
        lines.append(f"- {tool}: {version(command)}")
    notes = os.path.join(os.path.dirname(output), "benchmarks-notes.md")
    if os.path.exists(notes):
        lines += ["", open(notes).read().rstrip()]
    with open(output, "w") as out:
        out.write("\n".join(lines) + "\n")
    start = lines.index("| work | baleia | peer | ratio | target |")
    print("\n".join(lines[start : start + 2 + len(rows)]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
