"""How many CPU threads llama.cpp gets when the user does not say.

llama.cpp's threads meet at a barrier after every layer; when another
process takes one of the cores, the thread that lost its core holds all the
others up. Measured with ``rk-assist bench-threads`` (Qwen2.5 0.5B, 2 cores):
2 threads decode 31.9 tokens/s idle but 11.3 beside one busy core; 1 thread
decodes 18.3 idle and 18.6 beside it, prefill alike (81 -> 27 tokens/s
against 45 -> 43). A Home Assistant box always runs something else, and a
steady answer matters more than the fastest idle one, so the default leaves
one core free: every core but one.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_threads(cores: int | None = None) -> int:
    """Every core but one, and at least one."""
    cores = available_cores() if cores is None else cores
    return max(1, cores - 1)
