"""``rk-assist bench-soak`` runs turns from 4 clients against a real service process."""

import re

import pytest

from .test_cli import run_command

pytestmark = pytest.mark.model


async def test_a_short_soak_answers_every_turn_and_reports_memory():
    code, out, err = await run_command(
        "bench-soak", "8", "--max-tokens", "8", "--fill", "1", timeout=600
    )
    assert code == 0, out + err
    summary = out.strip().splitlines()[-1]
    assert re.match(
        r"8 turns \(0 failed\) in \d+ s from 4 clients; RSS after filling [\d.]+ MB", summary
    )
    assert "growth after warm-up" in summary
