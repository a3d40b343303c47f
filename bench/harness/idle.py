"""The memory case: a server's RSS while it holds many idle keep-alive connections.

Opens the connections from this process with non-blocking sockets, sends one `GET /` on each and
reads its whole response, so each is a live keep-alive connection the server has answered, then
reads VmRSS/VmHWM from /proc. Every wait is bounded; a server that stops accepting (ferry-std
serves at most 1,024 connections at once) is measured with what it holds, and the table says so.
"""

import selectors
import socket
import time
from dataclasses import dataclass, field

from harness.common import FD_HEADROOM, memory_kib
from harness.report import render_idle
from harness.servers import start_ferry, start_nginx, stop_servers

CONNECTING_WINDOW = 256  # connects in flight at once: stays under every server's listen backlog
IDLE_DEADLINE_S = 60  # the whole opening phase for one server, whatever happens
IDLE_STALL_S = 5  # nothing answered, failed or connected for this long: the server is full
SETTLE_S = 1  # after the last answer, before reading RSS: lets the server finish its bookkeeping
IDLE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
HEAD_END = b"\r\n\r\n"


@dataclass
class Held:
    """What became of the connections opened against one server."""

    attempted: int = 0
    answered: int = 0  # connected, sent GET /, read the whole response: live keep-alive
    waiting: int = 0  # connected (by the kernel) but never answered: queued in the listen backlog
    connecting: int = 0  # handshake not finished when we stopped: backlog full, SYN dropped
    failed: int = 0  # refused, reset or closed by the server
    seconds: float = 0.0
    sockets: list = field(default_factory=list)


@dataclass
class Conn:
    sock: socket.socket
    connected: bool = False
    received: bytes = b""


def run_idle_case(bench):
    count = min(bench.idle_connections, bench.nofile - FD_HEADROOM)
    print(f"\n== idle: {count} idle keep-alive connections per server", flush=True)
    rows = []
    starters = [("nginx", lambda: start_nginx(bench))] + [
        (name, lambda name=name, binary=binary: start_ferry(bench, name, binary))
        for name, binary in bench.binaries.items()
    ]
    for name, start in starters:
        server = start()
        try:
            rss_before, _ = memory_kib(server.pid)
            held = hold_idle(server.port, count)
            time.sleep(SETTLE_S)
            rss, hwm = memory_kib(server.pid)
            for sock in held.sockets:
                sock.close()
            held.sockets = []
        finally:
            stop_servers(bench, [server])
        row = {"server": name, "rss_before_kib": rss_before, "rss_kib": rss, "hwm_kib": hwm}
        row.update(not_tried=count - held.attempted, window=CONNECTING_WINDOW)
        row.update({key: value for key, value in vars(held).items() if key != "sockets"})
        print(f"  {name:9} {row}", flush=True)
        rows.append(row)
    return render_idle(count, rows)


def hold_idle(port, count):
    """Opens `count` connections to `port`, each answered once; returns them still open."""
    held = Held()
    selector = selectors.DefaultSelector()
    started = time.monotonic()
    deadline = started + IDLE_DEADLINE_S
    last_progress = started
    connecting = 0
    try:
        while time.monotonic() < deadline and time.monotonic() - last_progress < IDLE_STALL_S:
            while connecting < CONNECTING_WINDOW and held.attempted < count:
                open_one(selector, port, held)
                connecting += 1
            if held.answered + held.failed == count:
                break
            for key, _ in selector.select(timeout=0.2):
                before = (held.answered, held.failed, connecting)
                connecting -= step(selector, key.data, held)
                if (held.answered, held.failed, connecting) != before:
                    last_progress = time.monotonic()
    finally:
        selector.close()
    held.seconds = time.monotonic() - started
    held.connecting = connecting
    held.waiting = held.attempted - held.answered - held.failed - connecting
    return held


def open_one(selector, port, held):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex(("127.0.0.1", port))  # EINPROGRESS; the outcome comes with writability
    held.attempted += 1
    held.sockets.append(sock)
    selector.register(sock, selectors.EVENT_WRITE, Conn(sock))


def step(selector, conn, held):
    """Advances one connection on readiness; returns 1 when it left the connecting state."""
    if not conn.connected:
        error = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            finish(selector, conn, held, failed=True)
            return 1
        conn.connected = True
        # 36 bytes into an empty socket buffer: one send takes all of it.
        conn.sock.send(IDLE_REQUEST)
        selector.modify(conn.sock, selectors.EVENT_READ, conn)
        return 1
    try:
        data = conn.sock.recv(65536)
    except OSError:
        data = b""
    if not data:
        finish(selector, conn, held, failed=True)
        return 0
    conn.received += data
    if response_complete(conn.received):
        conn.received = b""
        finish(selector, conn, held, failed=False)
    return 0


def finish(selector, conn, held, failed):
    selector.unregister(conn.sock)
    if failed:
        held.failed += 1
    else:
        held.answered += 1


def response_complete(data):
    """Whether `data` holds a whole response head and its Content-Length body."""
    head_end = data.find(HEAD_END)
    if head_end < 0:
        return False
    length = 0
    for line in data[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(data) >= head_end + len(HEAD_END) + length
