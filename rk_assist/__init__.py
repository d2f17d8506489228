"""rk-assist: a local voice-assistant brain for Home Assistant."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rk-assist")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def summary(doc: str | None) -> str:
    """A module docstring's first line as ``--help`` shows it: plain text, no reST markup."""
    return (doc or "").strip().split("\n")[0].replace("``", "")
