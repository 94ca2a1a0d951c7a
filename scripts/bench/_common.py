"""Shared pieces of the benches: child servers on loopback, a bounded load loop, the tables."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child process quietly."""
    return subprocess.Popen(args, env=dict(env) if env else None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_healthy(url: str, within_s: float = 30.0) -> float:
    """Return seconds until `url` answers 200 to a GET."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < within_s:
            with contextlib.suppress(aiohttp.ClientError):  # not listening yet
                async with session.get(url) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            await asyncio.sleep(0.01)
    raise TimeoutError(url)


@dataclass(frozen=True)
class LoadResult:
    """Latency quantiles, throughput and failures of one load run."""

    p50_ms: float
    p99_ms: float
    rps: float
    errors: int


async def load(
    method: str,
    url: str,
    concurrency: int,
    seconds: float,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """Drive `url` with `concurrency` workers for `seconds` (bounded) and measure."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.request(method, url, data=body, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)

        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begun
    quantiles = statistics.quantiles(latencies, n=100)
    return LoadResult(quantiles[49], quantiles[98], len(latencies) / elapsed, errors)


def rss_mb(pid: int) -> float:
    """Return the resident set size of `pid` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_table(rows: list[tuple[str, int, LoadResult]]) -> None:
    """Print one row per (target, clients)."""
    print(f"{'target':<12}{'clients':>8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'errors':>8}")
    for name, clients, r in rows:
        print(f"{name:<12}{clients:>8}{r.p50_ms:>10.3f}{r.p99_ms:>10.3f}{r.rps:>10.0f}{r.errors:>8}")
