"""Measure the HTTP limits against hostile clients on a real `cerbero-mcp` subprocess on loopback.

    uv run python scripts/bench/dos.py [--max-body-bytes N] [--header-timeout-s S] [--max-connections N]

Prints the largest body accepted, how long an idle and a slowloris connection live, how many
connections and GET /mcp streams are served at once, and the server's RSS (/proc/<pid>/status)
while three clients each send a 100 MB body (declared, then chunked).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, rss_mb, start, wait_healthy

TESTNET = "bench-testnet-token-" + "x" * 20
MAINNET = "bench-mainnet-token-" + "y" * 20
TOOL = "/mcp-deribit/tools/get_ticker"
GIVE_UP_S = 30.0


def auth(token: str = TESTNET) -> str:
    """Return the header lines of an authenticated tool call."""
    return f"Authorization: Bearer {token}\r\nX-Bot-Tag: dos-bench\r\n"


def status(sock: socket.socket) -> int:
    """Read a response head (and its Content-Length body) from `sock`; return its status (0 if closed first)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return 0
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        lengths = [line.split(b":", 1)[1] for line in lines if line.lower().startswith(b"content-length:")]
        while lengths and len(body) < int(lengths[0]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except (ConnectionError, TimeoutError):
        return 0
    return int(data.split(b" ", 2)[1])


def seconds_to_close(sock: socket.socket, trickle: bytes = b"") -> float:
    """Return seconds until the server closes `sock`, sending one byte of `trickle` every 0.1 s meanwhile."""
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < GIVE_UP_S:
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except ConnectionError:
                return time.monotonic() - started
            sent += 1
        if select.select([sock], [], [], 0.1)[0]:
            try:
                if not sock.recv(65536):
                    return time.monotonic() - started
            except ConnectionError:
                return time.monotonic() - started
    return float("inf")


def largest_body(port: int, limit: int) -> tuple[int, int, int]:
    """Return (largest size answered other than 413, its status, the status one byte over it)."""
    results = {}
    for size in (limit, limit + 1):
        with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S) as sock:
            head = f"POST {TOOL} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth()}Content-Type: application/json\r\n"
            body = b"{" + b" " * (size - 2) + b"}"  # valid JSON of exactly `size` bytes
            sock.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode() + body)
            results[size] = status(sock)
    return limit, results[limit], results[limit + 1]


def connections_served(port: int, cap: int) -> tuple[int, int]:
    """Open keep-alive connections one by one until one answers non-200; return (served, that status)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(cap + 5):
            sock = socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S)
            socks.append(sock)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            code = status(sock)
            if code != 200:
                return len(socks) - 1, code
        return len(socks), 200
    finally:
        for sock in socks:
            sock.close()


def streams_served(port: int, tokens: list[str], attempts: int) -> tuple[int, int]:
    """Open GET /mcp streams with `tokens` in turn until one is refused; return (open, refusal status)."""
    socks: list[socket.socket] = []
    try:
        for i in range(attempts):
            sock = socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S)
            socks.append(sock)
            request = f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth(tokens[i % len(tokens)])}"
            sock.sendall(f"{request}Accept: text/event-stream\r\n\r\n".encode())
            code = status(sock)
            if code != 200:
                return len(socks) - 1, code
        return len(socks), 200
    finally:
        for sock in socks:
            sock.close()


def send_big_body(port: int, size: int, chunked: bool) -> None:
    """Send a `size`-byte body to a tool as fast as the server takes it, until it answers or closes."""
    block = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S) as sock:
        head = f"POST {TOOL} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth()}Content-Type: application/json\r\n"
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        try:
            sock.sendall(f"{head}{framing}\r\n\r\n".encode())
            for _ in range(size // len(block)):
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
            status(sock)
        except (ConnectionError, TimeoutError):
            pass  # the server answered 413 and closed: the rest of the body was never read


def peak_rss_while(pid: int, port: int, chunked: bool) -> float:
    """Return the peak RSS (MiB) of `pid` while three clients each send a 100 MB body."""
    threads = [
        threading.Thread(target=send_big_body, args=(port, 100 * 1024 * 1024, chunked), daemon=True) for _ in range(3)
    ]
    peak = rss_mb(pid)
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_mb(pid))
        time.sleep(0.01)
    return max(peak, rss_mb(pid))


def main() -> int:
    """Start the server, run every measurement, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-body-bytes", type=int, default=1024 * 1024)
    parser.add_argument("--header-timeout-s", type=float, default=2.0)
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--max-streams", type=int, default=6)
    parser.add_argument("--max-streams-per-token", type=int, default=4)
    args = parser.parse_args()

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="cerbero-dos-")
    env = {
        **os.environ,
        "TESTNET_TOKEN": TESTNET,
        "MAINNET_TOKEN": MAINNET,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": data_dir,
        "MAX_BODY_BYTES": str(args.max_body_bytes),
        "HTTP_HEADER_TIMEOUT_S": str(args.header_timeout_s),
        "MAX_CONNECTIONS": str(args.max_connections),
        "MCP_MAX_STREAMS": str(args.max_streams),
        "MCP_MAX_STREAMS_PER_TOKEN": str(args.max_streams_per_token),
    }
    os.chdir(data_dir)  # no .env of the working tree leaks into the child
    server = start([sys.executable, "-m", "cerbero_mcp"], env)
    try:
        asyncio.run(wait_healthy(f"http://127.0.0.1:{port}/health"))
        idle_rss = rss_mb(server.pid)
        size, ok, over = largest_body(port, args.max_body_bytes)
        print(f"largest body accepted:       {size} bytes (answered {ok}; {size + 1} bytes answered {over})")
        with socket.create_connection(("127.0.0.1", port)) as sock:
            idle = seconds_to_close(sock)
            print(f"idle connection dropped:     {idle:.2f} s (HTTP_HEADER_TIMEOUT_S={args.header_timeout_s})")
        with socket.create_connection(("127.0.0.1", port)) as sock:
            trickle = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 10_000
            print(f"slowloris connection dropped: {seconds_to_close(sock, trickle):.2f} s (one byte / 0.1 s)")
        served, refused = connections_served(port, args.max_connections)
        cap = f"MAX_CONNECTIONS={args.max_connections}"
        print(f"connections served at once:  {served} (the next answered {refused}; {cap})")
        per_token, refused = streams_served(port, [TESTNET], args.max_streams + 2)
        print(f"GET /mcp streams per token:  {per_token} (the next answered {refused})")
        time.sleep(1.0)  # the server frees a slot when it sees the client's disconnect
        total, refused = streams_served(port, [TESTNET, MAINNET], args.max_streams + 2)
        print(f"GET /mcp streams per server: {total} (the next answered {refused})")
        time.sleep(0.5)
        print(f"RSS idle:                    {idle_rss:.1f} MiB")
        for chunked in (False, True):
            peak = peak_rss_while(server.pid, port, chunked)
            framing = "chunked" if chunked else "Content-Length"
            print(f"RSS peak, 3 x 100 MB bodies ({framing}): {peak:.1f} MiB")
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
