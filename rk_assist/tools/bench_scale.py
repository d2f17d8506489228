"""``rk-assist bench-scale``: throughput of 1 and 2 boards behind HAProxy, one run.

Starts rk-assist instances on loopback (each standing for a board, with its
own thread budget), HAProxy in front of them with the configuration users
get (``data/haproxy.cfg``), and sends the same concurrent load through the
balancer to 1 and then 2 instances: turns per minute and how the requests
spread. ``LocalCluster`` is also what the scale-out test drives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from .. import summary
from ..models.select import embedded_entry
from .scale_out import Board, haproxy_config
from .servers import burner_processes, free_port

QUESTIONS = (
    "What is the capital of France?",
    "Name three colours of the rainbow.",
    "How many legs does a spider have?",
    "What do bees make?",
)


class LocalCluster:
    """N rk-assist instances and HAProxy on loopback; stop it with ``close``."""

    def __init__(self, workdir: Path, boards: int, model: str | None, threads: int = 1) -> None:
        self.workdir = workdir
        # The service's machinery is measured: the embedded model unless another is named.
        self.model, self.threads = model or embedded_entry().name, threads
        self.boards = [Board("127.0.0.1", free_port(), free_port()) for _ in range(boards)]
        self.http_port, self.wyoming_port = free_port(), free_port()
        self.processes: list[subprocess.Popen] = []
        #: The name the instances give their model, known once they are up.
        self.model_name = ""
        self.haproxy: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def board_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.boards[index].http_port}"

    async def start(self, timeout: float = 180.0) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise FileNotFoundError("haproxy is not installed (Debian: apt-get install haproxy)")
        for index, board in enumerate(self.boards):
            command = [
                sys.executable, "-m", "rk_assist",
                "--uri", f"tcp://127.0.0.1:{board.wyoming_port}",
                "--http-uri", f"http://127.0.0.1:{board.http_port}",
                "--threads", str(self.threads),
                "--home-control", "off",
                "--cache-dir", str(self.workdir / f"cache-{index}"),
                "--model", self.model,
            ]  # fmt: skip
            log = (self.workdir / f"board-{index}.log").open("wb")
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        config = self.workdir / "haproxy.cfg"
        config.write_text(
            haproxy_config(
                self.boards, f"127.0.0.1:{self.http_port}", f"127.0.0.1:{self.wyoming_port}"
            )
        )
        async with aiohttp.ClientSession() as session:
            for index in range(len(self.boards)):
                await self._wait_healthy(session, self.board_url(index), index, timeout)
            log = (self.workdir / "haproxy.log").open("wb")
            self.haproxy = subprocess.Popen(
                [haproxy, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT
            )
            await self._wait_healthy(session, self.url, None, 30.0)
            async with session.get(self.board_url(0) + "/v1/models") as response:
                self.model_name = (await response.json())["data"][0]["id"]

    async def _wait_healthy(
        self, session: aiohttp.ClientSession, url: str, index: int | None, timeout: float
    ) -> None:
        process = self.processes[index] if index is not None else self.haproxy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                name = f"board-{index}" if index is not None else "haproxy"
                log = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with code {process.returncode}:\n{log}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/health") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"{url} was not healthy within {timeout:.0f} s")

    async def health(self, session: aiohttp.ClientSession, index: int) -> dict[str, Any]:
        async with session.get(self.board_url(index) + "/health") as response:
            return await response.json()

    def close(self) -> None:
        for process in [*self.processes, self.haproxy]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.processes, self.haproxy]:
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def ask(
    session: aiohttp.ClientSession, url: str, model: str, question: str, max_tokens: int
) -> str:
    """One OpenAI chat request; the answer's text."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "temperature": 0,
        "max_tokens": max_tokens,
    }
    async with session.post(url + "/v1/chat/completions", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:200]}")
        reply = await response.json()
    return reply["choices"][0]["message"]["content"] or ""


async def load_through(
    cluster: LocalCluster, clients: int, turns: int, max_tokens: int
) -> tuple[float, list[float], int]:
    """``turns`` requests from ``clients`` at once: wall seconds, latencies, failures."""
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for index in range(turns):
        queue.put_nowait(QUESTIONS[index % len(QUESTIONS)])
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def client() -> None:
            nonlocal failures
            while not queue.empty():
                question = queue.get_nowait()
                started = time.perf_counter()
                try:
                    await ask(session, cluster.url, cluster.model_name, question, max_tokens)
                except (RuntimeError, aiohttp.ClientError) as err:
                    failures += 1
                    print(f"  failed: {err}", flush=True)
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started, latencies, failures


async def run(args: argparse.Namespace) -> int:
    burners = burner_processes(args.load)
    rows = []
    try:
        for boards in args.boards:
            with tempfile.TemporaryDirectory(prefix="rk-assist-scale-") as workdir:
                cluster = LocalCluster(Path(workdir), boards, args.model, args.threads)
                try:
                    await cluster.start()
                    async with aiohttp.ClientSession() as session:
                        for index in range(boards):  # each board's first answer is slower
                            await ask(
                                session, cluster.board_url(index), cluster.model_name, "Hi", 4
                            )
                        before = [
                            (await cluster.health(session, i))["generations"] for i in range(boards)
                        ]
                        wall, latencies, failures = await load_through(
                            cluster, args.clients, args.turns, args.max_tokens
                        )
                        after = [
                            (await cluster.health(session, i))["generations"] for i in range(boards)
                        ]
                finally:
                    cluster.close()
            spread = Counter(
                {f"board{i + 1}": a - b for i, (a, b) in enumerate(zip(after, before, strict=True))}
            )
            per_minute = len(latencies) / wall * 60
            rows.append((boards, per_minute))
            print(
                f"{boards} board(s): {len(latencies)} turns in {wall:.1f} s = "
                f"{per_minute:.1f} turns/min, median latency {statistics.median(latencies):.2f} s, "
                f"{failures} failed, answered by {dict(spread)}",
                flush=True,
            )
    finally:
        for burner in burners:
            burner.kill()
    if len(rows) >= 2:
        (one, first), (many, last) = rows[0], rows[-1]
        print(f"throughput {many} vs {one} board(s): {last / first:.2f}x")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-scale", description=summary(__doc__))
    parser.add_argument("--model", help="a model each instance loads (default: the embedded one)")
    parser.add_argument("--boards", type=int, nargs="+", default=[1, 2], help="instances (1 2)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per instance (1)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument("--turns", type=int, default=24, help="requests in all (24)")
    parser.add_argument("--max-tokens", type=int, default=32, help="answer length (32)")
    parser.add_argument("--load", type=int, default=0, help="competing CPU burners to run (0)")
    args = parser.parse_args(argv)
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        print(
            "rk-assist bench-scale: haproxy is not installed (apt-get install haproxy)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(run(args))
