"""The default thread count leaves a core for Home Assistant (figures: rk-assist bench-threads)."""

from rk_assist.runtimes.threads import available_cores, default_threads


def test_every_core_but_one_and_never_none():
    assert default_threads(1) == 1
    assert default_threads(2) == 1
    assert default_threads(8) == 7
    assert 1 <= default_threads() <= available_cores()
