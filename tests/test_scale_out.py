"""Several boards behind HAProxy: the shipped configuration, run for real on loopback.

Two rk-assist processes (the embedded model, one thread each) stand for two
boards; HAProxy runs the configuration users get from ``rk-assist
haproxy-config``. Skipped where HAProxy is not installed (``script/setup``
installs it where it can).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from rk_assist.__main__ import main
from rk_assist.tools.bench_scale import LocalCluster, ask
from rk_assist.tools.client import ask as ask_wyoming
from rk_assist.tools.scale_out import Board, haproxy_config

from .conftest import LONG_ANSWER_PROMPT

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
needs_haproxy = pytest.mark.skipif(
    HAPROXY is None, reason="haproxy is not installed (Debian: apt-get install haproxy)"
)


def test_the_configuration_lists_every_board_in_both_backends():
    boards = [Board.parse("board-a"), Board.parse("10.1.1.2:8080"), Board.parse("c:8081:9001")]
    text = haproxy_config(boards)
    assert "server board1 board-a:11434 check\n" in text
    assert "server board2 10.1.1.2:8080 check\n" in text
    assert "server board3 c:8081 check\n" in text
    # Wyoming's checks go to each board's own HTTP port.
    assert "server board1 board-a:10500 check port 11434\n" in text
    assert "server board3 c:9001 check port 8081\n" in text
    assert "board2.local:" not in text and text.count("server board") == 6


def test_bad_board_addresses_are_refused(capsys):
    with pytest.raises(ValueError, match="HOST:HTTP_PORT"):
        Board.parse("host:http")
    with pytest.raises(SystemExit):
        main(["haproxy-config", "a:1:2:3"])
    assert "expected HOST" in capsys.readouterr().err


@needs_haproxy
def test_haproxy_accepts_the_configuration(tmp_path, capsys):
    assert main(["haproxy-config", "127.0.0.1:11434", "127.0.0.2"]) == 0
    config = tmp_path / "haproxy.cfg"
    config.write_text(capsys.readouterr().out)
    checked = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_haproxy
@pytest.mark.model
async def test_requests_spread_over_two_boards_and_a_stopped_one_leaves_rotation(tmp_path):
    cluster = LocalCluster(tmp_path, boards=2, model=None, threads=1)
    try:
        await cluster.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            before = [(await cluster.health(session, i))["generations"] for i in (0, 1)]
            for index in range(6):
                answer = await ask(session, cluster.url, cluster.model_name, f"Say {index}", 6)
                assert answer.strip()
            middle = [(await cluster.health(session, i))["generations"] for i in (0, 1)]
            served = [m - b for m, b in zip(middle, before, strict=True)]
            assert sum(served) == 6 and min(served) >= 2, served

            # Wyoming passes through as TCP: Home Assistant's transcript gets an answer.
            heard = await ask_wyoming(f"tcp://127.0.0.1:{cluster.wyoming_port}", "hello")
            assert heard.text.strip()

            # A board stopped as its supervisor stops it (SIGTERM) in the middle of an
            # answer: an answer that fits in the stop's grace (STOP_GRACE_S, 3 s; about
            # 1 s here) finishes, and every later request still succeeds. A longer one is
            # cut after the grace, so the process ends within 5 s (tests/test_hold_up.py).
            body = {
                "model": cluster.model_name,
                "messages": [{"role": "user", "content": LONG_ANSWER_PROMPT}],
                "max_tokens": 40,
                "stream": True,
            }
            url = cluster.board_url(0) + "/v1/chat/completions"
            async with session.post(url, json=body) as streaming:
                await streaming.content.readline()
                cluster.processes[0].send_signal(signal.SIGTERM)
                rest = await streaming.read()
            assert rest.rstrip().endswith(b"data: [DONE]")
            assert cluster.processes[0].wait(timeout=60) == 0
            for index in range(6):
                answer = await ask(session, cluster.url, cluster.model_name, f"Say {index}", 6)
                assert answer.strip()
            last = (await cluster.health(session, 1))["generations"]
            assert last - middle[1] >= 6  # the Wyoming answer may have landed here too
    finally:
        cluster.close()
