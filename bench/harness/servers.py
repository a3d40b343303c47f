"""Starting and stopping the servers under test: nginx and each ferry binary.

Each server runs pinned to the server core, with a raised descriptor limit, in its own working
folder under the run's temp dir, on a free loopback port. Never measures anything.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.common import FD_HEADROOM, SERVER_CORE, STATIC, parent_pid
from harness.setup import find_tool

START_TIMEOUT_S = 15  # a server that has not printed its listening lines by then failed
STOP_TIMEOUT_S = 10  # SIGTERM, then SIGKILL after this long
# ferry prints one line per listening socket; both must be there before it is measured.
LISTENING_LINES = ["listening on http://", "listening on udp://"]
# Idle keep-alive connections must survive the memory case (ferry's default closes them at 15s).
FERRY_ARGS = ["--idle-timeout", "5m"]
NGINX_KEEPALIVE = "300s"  # the same 5 minutes as FERRY_ARGS


@dataclass
class Server:
    """A started server: `pid` is the process doing the work (nginx's worker, not its master)."""

    name: str
    proc: subprocess.Popen
    pid: int
    port: int
    workdir: Path
    store: Path | None = None


def start_servers(bench):
    """Starts nginx and every ferry binary; nginx first so the tables lead with the reference."""
    servers = [start_nginx(bench)]
    for name, binary in bench.binaries.items():
        servers.append(start_ferry(bench, name, binary))
    return servers


def start_ferry(bench, name, binary):
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=bench.tmp))
    http_port, socket_port = free_tcp_port(), free_udp_port()
    store = workdir / "data.json"
    command = [
        str(binary), "serve",
        "--http", f"127.0.0.1:{http_port}",
        "--socket", f"127.0.0.1:{socket_port}",
        "--static", str(STATIC),
        "--store", str(store),
        *FERRY_ARGS,
    ]  # fmt: skip
    proc = spawn(bench, command, workdir)
    wait_for_lines(proc, workdir, LISTENING_LINES, name)
    wait_for_port(proc, http_port, name, workdir)
    return Server(name, proc, proc.pid, http_port, workdir, store)


def start_nginx(bench):
    workdir = Path(tempfile.mkdtemp(prefix="nginx-", dir=bench.tmp))
    port = free_tcp_port()
    config = workdir / "nginx.conf"
    # nginx allocates every connection slot at start: size them to the largest case, not to
    # the descriptor limit, or its RSS carries thousands of slots no case uses.
    slots = min(bench.idle_connections, bench.nofile - FD_HEADROOM) + FD_HEADROOM
    config.write_text(nginx_config(workdir, port, bench.nofile, slots))
    command = [
        find_tool("nginx"), "-p", str(workdir), "-c", str(config), "-e", str(workdir / "error.log")
    ]
    proc = spawn(bench, command, workdir)
    wait_for_port(proc, port, "nginx", workdir)
    worker = nginx_worker(proc.pid)
    bench.extra_pids.append(worker)
    return Server("nginx", proc, worker, port, workdir)


def nginx_config(workdir, port, nofile, slots):
    # Run the worker as the invoking user so it can read static/ wherever the clone lives.
    user = "user root root;" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"  {kind}_temp_path {workdir}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
worker_rlimit_nofile {nofile};
events {{ worker_connections {slots}; }}
http {{
  types {{
    text/html html; text/css css; image/png png; application/javascript js; image/svg+xml svg;
  }}
  default_type application/octet-stream;
  charset utf-8;
  access_log off;
  sendfile on;
  keepalive_requests 1000000000;
  keepalive_timeout {NGINX_KEEPALIVE};
{temp_paths}
  server {{
    listen 127.0.0.1:{port};
    root {STATIC};
    index index.html;
    error_page 404 /error.html;
  }}
}}
"""


def spawn(bench, command, workdir):
    """Starts `command` on the server core with a raised descriptor limit, output to files."""
    wrapped = ["prlimit", f"--nofile={bench.nofile}", "taskset", "-c", SERVER_CORE, *command]
    print(f"  start: {' '.join(map(str, command))}", flush=True)
    proc = subprocess.Popen(
        wrapped,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=open(workdir / "stdout", "wb"),
        stderr=open(workdir / "stderr", "wb"),
        start_new_session=True,  # Ctrl-C reaches this script, which stops servers in order
    )
    bench.procs.append(proc)
    return proc


def wait_for_lines(proc, workdir, needles, name):
    path = workdir / "stdout"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if all(needle in text for needle in needles):
            return
        fail_if_exited(proc, name, workdir)
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not print {needles} within {START_TIMEOUT_S}s")


def wait_for_port(proc, port, name, workdir):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        fail_if_exited(proc, name, workdir)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} is not accepting on port {port} after {START_TIMEOUT_S}s")


def fail_if_exited(proc, name, workdir):
    if proc.poll() is not None:
        said = (workdir / "stderr").read_text(errors="replace").strip().splitlines()
        last = said[-1] if said else "nothing on stderr"
        raise RuntimeError(f"{name} exited with status {proc.returncode} while starting: {last}")


def nginx_worker(master):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and parent_pid(entry.name) == master:
                return int(entry.name)
        time.sleep(0.05)
    raise RuntimeError("nginx started no worker process")


def stop_servers(bench, servers):
    for server in servers:
        stop(server.proc)
    bench.extra_pids.clear()


def stop(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def cleanup(bench):
    for proc in bench.procs:
        try:
            stop(proc)
        except (OSError, subprocess.TimeoutExpired):
            pass
    for pid in bench.extra_pids:
        # An nginx worker outlives its master only if the master was killed; end it by PID.
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    bench.procs.clear()
    bench.extra_pids.clear()
    shutil.rmtree(bench.tmp, ignore_errors=True)


def free_tcp_port():
    return free_port(socket.SOCK_STREAM)


def free_udp_port():
    return free_port(socket.SOCK_DGRAM)


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
