"""Several boards behind HAProxy: the example configuration, written for your boards.

RKLLM cannot split a model across boards, so the unit of scale-out is the
request; HAProxy balances them. The configuration lives in one place,
``data/haproxy.cfg`` (read it for the why of each line); this module only
swaps its two example boards for the real ones, so the file a user reads, the
one ``rk-assist haproxy-config`` prints and the one the tests run are the same.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from ..defaults import HTTP_PORT, WYOMING_PORT

_SERVER_LINE = re.compile(r"\s*server (board\d+) board\d+\.local:(\d+) check")


@dataclass(frozen=True)
class Board:
    host: str
    http_port: int = HTTP_PORT
    wyoming_port: int = WYOMING_PORT

    @classmethod
    def parse(cls, text: str) -> Board:
        """HOST, HOST:HTTP_PORT or HOST:HTTP_PORT:WYOMING_PORT."""
        host, *ports = text.split(":")
        if not host or len(ports) > 2 or not all(port.isdigit() for port in ports):
            raise ValueError(
                f"{text!r}: expected HOST, HOST:HTTP_PORT or HOST:HTTP_PORT:WYOMING_PORT"
            )
        numbers = [int(port) for port in ports] + [HTTP_PORT, WYOMING_PORT][len(ports) :]
        return cls(host, numbers[0], numbers[1])


def example_config() -> str:
    return resources.files("rk_assist").joinpath("data/haproxy.cfg").read_text(encoding="utf-8")


def haproxy_config(
    boards: Sequence[Board],
    http_bind: str = f":{HTTP_PORT}",
    wyoming_bind: str = f":{WYOMING_PORT}",
) -> str:
    """The example configuration with one server line per board in each backend."""
    if not boards:
        raise ValueError("at least one board is needed")
    text = example_config()
    text = text.replace(f"bind :{HTTP_PORT}", f"bind {http_bind}")
    text = text.replace(f"bind :{WYOMING_PORT}", f"bind {wyoming_bind}")
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        match = _SERVER_LINE.match(line)
        if match is None:
            lines.append(line)
        elif match.group(1) == "board1":  # the example's boards give way to the real ones
            indent = line[: len(line) - len(line.lstrip())]
            wyoming = int(match.group(2)) == WYOMING_PORT
            lines.extend(
                _server_line(indent, n, board, wyoming) for n, board in enumerate(boards, 1)
            )
    return "".join(lines)


def _server_line(indent: str, number: int, board: Board, wyoming: bool) -> str:
    server = f"{indent}server board{number} {board.host}"
    if wyoming:  # its health is read from the board's HTTP API
        return f"{server}:{board.wyoming_port} check port {board.http_port}\n"
    return f"{server}:{board.http_port} check\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rk-assist haproxy-config",
        description="Print an HAProxy configuration that balances these rk-assist boards.",
    )
    parser.add_argument(
        "boards",
        nargs="+",
        metavar="HOST[:HTTP_PORT[:WYOMING_PORT]]",
        help=f"a board running rk-assist (ports default to {HTTP_PORT} and {WYOMING_PORT})",
    )
    args = parser.parse_args(argv)
    try:
        boards = [Board.parse(text) for text in args.boards]
    except ValueError as err:
        parser.error(str(err))
    sys.stdout.write(haproxy_config(boards))
    return 0
