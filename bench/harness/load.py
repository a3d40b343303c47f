"""The throughput cases: wrk against every server, side by side, with the server's CPU time.

Owns the wrk command line, the reading of wrk's report, the POST script and the store count.
Never starts or stops anything but wrk.
"""

import json
import resource
import subprocess
import time
from dataclasses import dataclass, field

from harness.common import CLIENT_CORE, CLK_TCK, SERVER_CORE, core_ticks, cpu_ticks
from harness.report import describe, render_case
from harness.servers import start_servers, stop_servers

WARMUP_S = 1  # one short wrk run per server before a case: caches, page faults, lazy setup
WRK_SLACK_S = 30  # a wrk run taking this much longer than its -d is hung: killed
STORE_SETTLE_S = 5  # longest wait for in-flight POSTs to land in the store after wrk stops
POST_BODY = "username=bench&message=hello+from+the+benchmark"


@dataclass
class Case:
    """One wrk workload."""

    name: str
    title: str
    path: str
    connections: int
    expect_status: int  # every response should have this status; others are counted as errors
    post: bool = False


CASES = [
    Case("get64", "GET / keep-alive, 64 connections", "/", 64, 200),
    Case("get1", "GET / keep-alive, 1 connection", "/", 1, 200),
    Case("missing64", "GET /missing (404 page), 64 connections", "/missing", 64, 404),
    Case("post64", "POST /message end to end, 64 connections", "/message", 64, 303, post=True),
]


@dataclass
class Run:
    """One wrk run against one server."""

    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_us: float = 0.0
    p99_us: float = 0.0
    cpu_us_per_req: float = 0.0
    wrk_cpu_share: float = 0.0
    errors: int = 0
    answers_303: int = 0
    stored: int = 0
    others_share: list = field(default_factory=lambda: [0.0, 0.0])  # cores 0 and 1, 0..1


def run_case(bench, case):
    print(f"\n== {case.name}: {case.title}", flush=True)
    servers = start_servers(bench)
    try:
        script = write_post_script(bench.tmp) if case.post else None
        active = [s for s in servers if not (case.post and s.name == "nginx")]
        for server in active:
            wrk(server, case, WARMUP_S, script)
        runs = {server.name: [] for server in active}
        for index in range(bench.runs):
            # Rotate the order so no server always runs first (or right after a busy neighbour).
            for server in active[index % len(active):] + active[: index % len(active)]:
                run = measure(server, case, bench.duration_s, script)
                runs[server.name].append(run)
                print(f"  run {index + 1} {server.name:9} {describe(run)}", flush=True)
    finally:
        stop_servers(bench, servers)
    return render_case(case, runs)


def measure(server, case, duration_s, script):
    stored_before = count_stored(server.store) if case.post else 0
    cores_before = [core_ticks(SERVER_CORE), core_ticks(CLIENT_CORE)]
    cpu_before = cpu_ticks(server.pid)
    children_before = children_cpu_s()
    run = wrk(server, case, duration_s, script)
    # wrk is the only child reaped in between, so the children's CPU delta is wrk's.
    wrk_cpu_s = children_cpu_s() - children_before
    server_ticks = cpu_ticks(server.pid) - cpu_before
    cores_after = [core_ticks(SERVER_CORE), core_ticks(CLIENT_CORE)]
    if case.post:
        run.stored = settled_count(server.store) - stored_before
    run.cpu_us_per_req = server_ticks * 1_000_000 / CLK_TCK / run.requests
    run.wrk_cpu_share = wrk_cpu_s / run.seconds
    # What else kept the two cores busy: other developers' builds, kernel threads. A high share
    # means this run's numbers are depressed; ratios to nginx in the same round still hold best.
    mine = [server_ticks, wrk_cpu_s * CLK_TCK]
    run.others_share = [
        max(0.0, (after[0] - before[0] - own) / (after[1] - before[1]))
        for before, after, own in zip(cores_before, cores_after, mine)
    ]
    return run


def children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(server, case, duration_s, script):
    command = [
        "taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{case.connections}", f"-d{duration_s}s",
        "--latency",
    ]  # fmt: skip
    if script:
        command += ["-s", str(script)]
    command.append(f"http://127.0.0.1:{server.port}{case.path}")
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + WRK_SLACK_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}) against {server.name}: {done.stderr}")
    return parse_wrk(done.stdout, case)


def parse_wrk(output, case):
    """Reads wrk's --latency report (and the POST script's count of 303 answers)."""
    run = Run()
    non_success = 0
    socket_errors = 0
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 5 and words[1] == "requests" and words[2] == "in":
            run.requests = int(words[0])
            run.seconds = seconds(words[3].rstrip(","))
        elif words[:1] == ["50%"]:
            run.p50_us = seconds(words[1]) * 1e6
        elif words[:1] == ["99%"]:
            run.p99_us = seconds(words[1]) * 1e6
        elif words[:1] == ["Requests/sec:"]:
            run.rps = float(words[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            non_success = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            socket_errors = sum(int(word.rstrip(",")) for word in words if word.rstrip(",").isdigit())
        elif words[:1] == ["answers_303"]:
            run.answers_303 = int(words[1])
    if not run.requests or not run.rps:
        raise RuntimeError(f"could not read wrk's report:\n{output}")
    if case.post:
        wrong_status = run.requests - run.answers_303
    elif case.expect_status >= 400:
        wrong_status = run.requests - non_success
    else:
        wrong_status = non_success
    run.errors = socket_errors + wrong_status
    return run


def seconds(text):
    """wrk's durations: 12.34us, 1.20ms, 2.00s, 1.50m."""
    for suffix, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


def write_post_script(tmp):
    script = tmp / "post.lua"
    script.write_text(
        f"""-- POST /message with a urlencoded form; counts the 303 answers over every thread.
wrk.method = "POST"
wrk.body = "{POST_BODY}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) see_other = 0 end
function response(status, headers, body)
  if status == 303 then see_other = see_other + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("see_other") end
  io.write(string.format("answers_303 %d\\n", total))
end
"""
    )
    return script


def count_stored(store):
    try:
        text = store.read_text()
    except FileNotFoundError:
        return 0
    return len(json.loads(text)) if text.strip() else 0


def settled_count(store):
    """The store's count once it stops growing: POSTs in flight when wrk stopped still land."""
    deadline = time.monotonic() + STORE_SETTLE_S
    last = count_stored(store)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = count_stored(store)
        if now == last:
            return now
        last = now
    return last
