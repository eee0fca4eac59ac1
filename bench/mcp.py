"""MCP benchmark (issue 15): toolvault's MCP server against a floor measured in the same run.

- the floor: the same SDK (``MCPServer``) serving one tool that returns a constant text
  of the size of toolvault's ``get_context`` answer, over stdio and over streamable HTTP
  (served with the daemon's own uvicorn settings, ``cli.serve.run_server``);
- stdio: round trip of one ``tools/call`` (``get_context`` of one version), p50 and p99,
  one client, sequential calls; budget p50 within 1.5x of the floor's;
- streamable HTTP: ``tools/call`` throughput with 1 and 20 clients for a few seconds each,
  the daemon's ``/mcp`` against the floor; budget at least 2/3 of the floor's;
- beside it, the round trip of the daemon's ``GET /v1/content/SPEC`` (the REST read).

Run: ``.venv/bin/python bench/mcp.py [--quick]``. The machine's other load shows in the
figures: run it on a quiet machine and compare the ratios, not the absolute numbers.
"""

# ruff: noqa: E402 -- the imports follow the sys.path fix below
from __future__ import annotations

import sys
from pathlib import Path

# This file is named mcp.py, as the issue asks: run as a script, its folder comes first
# on sys.path and would shadow the SDK's package of the same name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from toolvault.cli.served import ServerProcess

TOOLVAULT = [sys.executable, "-m", "toolvault"]
STDIO_BUDGET = 1.5  # get_context p50 / floor p50, at most
HTTP_BUDGET = 2 / 3  # daemon calls/s / floor calls/s, at least

FLOOR = '''
import sys
from mcp.server import MCPServer
TEXT = open(sys.argv[2]).read()
server = MCPServer("floor", log_level="WARNING")

@server.tool()
def constant() -> str:
    """A constant text."""
    return TEXT

if sys.argv[1] == "stdio":
    server.run()
else:
    from toolvault.cli.serve import SERVING, listen, run_server
    from mcp.server.transport_security import TransportSecuritySettings
    sock = listen("127.0.0.1", 0)
    security = TransportSecuritySettings(allowed_hosts=["127.0.0.1:*"])
    app = server.streamable_http_app(transport_security=security)
    print(f"{SERVING}http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    run_server(app, sock)
'''


def tool_text() -> str:
    """A tool of a realistic size: a few hundred lines of shell."""
    lines = [f'echo "step {i}: $1" | tr a-z A-Z  # transform {i}' for i in range(120)]
    return "#!/bin/sh\n# Shout each step.\n" + "\n".join(lines) + "\n"


def tv(home: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*TOOLVAULT, "--home", str(home), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


async def stdio_round_trips(
    params: StdioServerParameters, tool: str, args: dict[str, Any], calls: int
) -> list[float]:
    async with Client(params) as client:
        for _ in range(20):  # warm up
            await client.call_tool(tool, args)
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            result = await client.call_tool(tool, args)
            times.append(time.perf_counter() - start)
            assert not result.is_error, result.content
    return times


async def http_calls(
    url: str, token: str | None, tool: str, args: dict[str, Any], clients: int, seconds: float
) -> int:
    """Calls made by ``clients`` concurrent sessions in ``seconds``."""
    count = 0

    async def one() -> None:
        nonlocal count
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            await client.call_tool(tool, args)
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                result = await client.call_tool(tool, args)
                assert not result.is_error, result.content
                count += 1

    async with anyio.create_task_group() as tasks:
        for _ in range(clients):
            tasks.start_soon(one)
    return count


def _http_worker(job: tuple[str, str | None, str, dict[str, Any], int, float]) -> int:
    return anyio.run(http_calls, *job)


def throughput(
    url: str, token: str | None, tool: str, args: dict[str, Any], clients: int, seconds: float
) -> float:
    """Calls per second, the clients spread over up to 4 processes (the client is heavy)."""
    procs = min(4, clients)
    jobs = [
        (url, token, tool, args, clients // procs + (i < clients % procs), seconds)
        for i in range(procs)
    ]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        return sum(pool.map(_http_worker, jobs)) / seconds


def rest_round_trips(url: str, token: str, path: str, calls: int) -> list[float]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(20):
            http.get(path)
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            http.get(path).raise_for_status()
            times.append(time.perf_counter() - start)
    return times


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer calls, shorter runs.")
    opts = parser.parse_args()
    calls, seconds = (100, 1.5) if opts.quick else (400, 4.0)
    tmp = Path(tempfile.mkdtemp(prefix="toolvault-bench-mcp-"))
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    (tmp / "SPEC").write_text(tool_text())
    tv(home, "add", str(tmp / "SPEC"), env=env)
    token = json.loads(tv(home, "token", "create", "--principal", "bench", "--json", env=env))[
        "secret"
    ]
    args = {"specs": ["SPEC"]}

    async def answer_text() -> str:
        params = StdioServerParameters(
            command=TOOLVAULT[0], args=[*TOOLVAULT[1:], "--home", str(home), "mcp"], env=env
        )
        async with Client(params) as client:
            result = await client.call_tool("get_context", args)
        return "".join(c.text for c in result.content)  # type: ignore[union-attr]

    text = anyio.run(answer_text)
    (tmp / "floor.txt").write_text(text)
    (tmp / "floor.py").write_text(FLOOR)
    floor_stdio = StdioServerParameters(
        command=sys.executable,
        args=[str(tmp / "floor.py"), "stdio", str(tmp / "floor.txt")],
        env=env,
    )
    mine_stdio = StdioServerParameters(
        command=TOOLVAULT[0], args=[*TOOLVAULT[1:], "--home", str(home), "mcp"], env=env
    )
    floor_rt = anyio.run(stdio_round_trips, floor_stdio, "constant", {}, calls)
    mine_rt = anyio.run(stdio_round_trips, mine_stdio, "get_context", args, calls)

    daemon = ServerProcess([*TOOLVAULT, "--home", str(home), "serve", "--port", "0"], env)
    floor = ServerProcess(
        [sys.executable, str(tmp / "floor.py"), "http", str(tmp / "floor.txt")], env
    )
    try:
        rates = {}
        for clients in (1, 20):
            rates[("floor", clients)] = throughput(
                f"{floor.url}/mcp", None, "constant", {}, clients, seconds
            )
            rates[("mine", clients)] = throughput(
                f"{daemon.url}/mcp", token, "get_context", args, clients, seconds
            )
        rest = rest_round_trips(daemon.url, token, "/v1/content/SPEC", calls)

        async def http_rt() -> list[float]:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as h,
                Client(streamable_http_client(f"{daemon.url}/mcp", http_client=h)) as client,
            ):
                times = []
                for _ in range(calls):
                    start = time.perf_counter()
                    await client.call_tool("get_context", args)
                    times.append(time.perf_counter() - start)
                return times

        mcp_http = anyio.run(http_rt)
    finally:
        daemon.stop()
        floor.stop()

    ratio = statistics.median(mine_rt) / statistics.median(floor_rt)
    size = len(tool_text())
    print(f"answer size: {len(text):,} characters (get_context of one {size:,}-byte version)")
    print(
        f"stdio round trip   floor p50 {p(floor_rt, 0.5):.2f} ms p99 {p(floor_rt, 0.99):.2f} ms | "
        f"get_context p50 {p(mine_rt, 0.5):.2f} ms p99 {p(mine_rt, 0.99):.2f} ms | "
        f"ratio {ratio:.2f}x (budget <= {STDIO_BUDGET}x): "
        + ("ok" if ratio <= STDIO_BUDGET else "OVER")
    )
    for clients in (1, 20):
        f, m = rates[("floor", clients)], rates[("mine", clients)]
        share = m / f
        print(
            f"HTTP {clients:>2} client(s)  floor {f:.0f} calls/s | "
            f"/mcp get_context {m:.0f} calls/s | {share:.2f} of the floor "
            f"(budget >= {HTTP_BUDGET:.2f}): " + ("ok" if share >= HTTP_BUDGET else "UNDER")
        )
    print(
        f"daemon round trip  GET /v1/content/SPEC p50 {p(rest, 0.5):.2f} ms | "
        f"/mcp get_context p50 {p(mcp_http, 0.5):.2f} ms"
    )


if __name__ == "__main__":
    main()
