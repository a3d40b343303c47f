"""Turning runs into tables: medians of the runs, ratios to nginx measured in the same run.

Every section is markdown (printed, and written to bench/results/latest.md) plus the raw numbers
(written there as JSON). Measures nothing.
"""

import json
import math
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict

from harness.common import CLIENT_CORE, REPO, RESULTS, SERVER_CORE

REFERENCE = "nginx"
RATIO_NOTE = (
    "× nginx: the median over rounds of this server's value / nginx's in the same round (it "
    "can differ from the ratio of the medians). others: share of each core busy with processes "
    "other than the server (core 0) and wrk (core 1)."
)
NO_POST_EQUIVALENT = "n/a: nginx has no equivalent of POST /message (forward to a store, wait)"


def header(bench):
    """The section that says what was measured, where and how."""
    lines = [
        "# ferry benchmark",
        "",
        f"- when: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; commit {git_commit()}",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores; servers pinned to core "
        f"{SERVER_CORE}, wrk to core {CLIENT_CORE}",
        f"- servers: {REFERENCE} ({tool_version(['nginx', '-v'])}), "
        + ", ".join(bench.binaries),
        f"- wrk: {tool_version(['wrk', '-v'])}, -t1, {bench.duration_s}s per run, "
        f"{bench.runs} run(s) per server; medians; ratios are per run against {REFERENCE}, "
        "then the median",
    ]
    return {"markdown": "\n".join(lines), "data": {"binaries": list(bench.binaries)}}


def describe(run):
    """One line for the progress log."""
    text = (
        f"{run.rps:>10.0f} req/s  p50 {latency(run.p50_us):>9}  p99 {latency(run.p99_us):>9}  "
        f"cpu {run.cpu_us_per_req:6.2f} us/req  wrk cpu {run.wrk_cpu_share:4.0%}  "
        f"errors {run.errors}  others {run.others_share[0]:.0%}/{run.others_share[1]:.0%}"
    )
    if run.answers_303 or run.stored:
        text += f"  303s {run.answers_303}  stored {run.stored}"
    return text


def render_case(case, runs):
    """The table of one throughput case; `runs` maps server name to its list of Run."""
    reference = runs.get(REFERENCE)
    columns = ["server", "req/s", "× nginx", "p50", "p99", "CPU µs/req", "CPU × nginx"]
    if case.post:
        columns += ["stored/s", "303s", "stored", "lost"]
    columns += ["errors", "wrk CPU", "others on cores 0/1"]
    rows = []
    if case.post:
        rows.append([REFERENCE, NO_POST_EQUIVALENT] + [""] * (len(columns) - 2))
    for name, server_runs in runs.items():
        rows.append(case_row(case, name, server_runs, reference))
    lines = [f"## {case.name}: {case.title}", "", *table(columns, rows), "", RATIO_NOTE]
    if case.post:
        lines += [
            "",
            "stored: entries added to the server's data.json, counted with a JSON parser after "
            "the run settled; lost: 303 answers whose message is not in the file (must be 0). "
            "Stored may exceed 303s by the POSTs in flight when wrk stopped.",
        ]
    data = {name: [asdict(run) for run in server_runs] for name, server_runs in runs.items()}
    return {"markdown": "\n".join(lines), "data": {case.name: data}}


def case_row(case, name, server_runs, reference):
    row = [
        name,
        f"{median(r.rps for r in server_runs):,.0f}",
        ratio(server_runs, reference, lambda r: r.rps),
        latency(median(r.p50_us for r in server_runs)),
        latency(median(r.p99_us for r in server_runs)),
        f"{median(r.cpu_us_per_req for r in server_runs):.2f}",
        ratio(server_runs, reference, lambda r: r.cpu_us_per_req),
    ]
    if case.post:
        answered = sum(r.answers_303 for r in server_runs)
        stored = sum(r.stored for r in server_runs)
        lost = sum(max(0, r.answers_303 - r.stored) for r in server_runs)
        row += [
            f"{median(r.stored / r.seconds for r in server_runs):,.0f}",
            f"{answered:,}",
            f"{stored:,}",
            "none" if lost == 0 else f"**{lost:,} LOST**",
        ]
    row += [
        f"{sum(r.errors for r in server_runs):,}",
        f"{median(r.wrk_cpu_share for r in server_runs):.0%}",
        f"{median(r.others_share[0] for r in server_runs):.0%} / "
        f"{median(r.others_share[1] for r in server_runs):.0%}",
    ]
    return row


def render_idle(count, rows):
    """The memory case's table; each row is a dict from harness.idle."""
    columns = [
        "server", "answered (live)", "in backlog", "connecting", "failed", "RSS before",
        "RSS held", "HWM", "KiB / conn",
    ]  # fmt: skip
    body = []
    notes = []
    for row in rows:
        per_conn = (row["rss_kib"] - row["rss_before_kib"]) / row["answered"] if row["answered"] else 0
        body.append([
            row["server"], f"{row['answered']:,}", f"{row['waiting']:,}", f"{row['connecting']:,}",
            f"{row['failed']:,}", mib(row["rss_before_kib"]), mib(row["rss_kib"]),
            mib(row["hwm_kib"]), f"{per_conn:.1f}",
        ])  # fmt: skip
        if row["answered"] < count:
            notes.append(
                f"- {row['server']}: answered {row['answered']:,} of {count:,} connections; "
                f"{row['waiting']:,} more were connected by the kernel but never accepted "
                f"(listen backlog), {row['connecting']:,} were still in their handshake "
                f"(backlog full) when the harness stopped waiting after {row['seconds']:.0f}s; "
                f"{row['not_tried']:,} were never tried (at most {row['window']} handshakes in "
                "flight at once). "
                "RSS is measured with what the server holds."
            )
    lines = [
        f"## idle{count // 1000}k: RSS holding {count:,} idle keep-alive connections",
        "",
        *table(columns, body),
        "",
        "Each connection sent one GET / and read the whole response before RSS was read "
        "(VmRSS/VmHWM of the serving process; nginx: its one worker). KiB / conn = (RSS held - "
        "RSS before) / answered.",
        *notes,
    ]
    return {"markdown": "\n".join(lines), "data": {"idle": rows}}


def write_results(sections):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    markdown = "\n\n".join(section["markdown"] for section in sections)
    data = {}
    for section in sections:
        data.update(section["data"])
    RESULTS.write_text(f"{markdown}\n\n```json\n{json.dumps(data, indent=1)}\n```\n")
    print(f"\n{markdown}\n\nwritten to {RESULTS.relative_to(REPO)}")


def table(columns, rows):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def ratio(server_runs, reference, value):
    """Median over runs of value(this run) / value(nginx's run with the same index)."""
    if not reference:
        return "n/a"
    ratios = [
        value(mine) / value(theirs)
        for mine, theirs in zip(server_runs, reference)
        if value(theirs) and not math.isnan(value(theirs))
    ]
    return f"{median(ratios):.2f}" if ratios else "n/a"


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def latency(us):
    if math.isnan(us):
        return "n/a"
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def git_commit():
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def tool_version(command):
    # nginx -v prints to stderr; wrk -v prints its banner and exits non-zero.
    done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    words = (done.stdout + done.stderr).split()
    # "nginx version: nginx/1.22.1" and "wrk 4.1.0 [epoll] Copyright ...": the version is the
    # first word holding a digit.
    return next((word for word in words if any(c.isdigit() for c in word)), "unknown")


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


