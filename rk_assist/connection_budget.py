"""How many connections each door keeps open, in all and from one address.

Both doors (Wyoming and HTTP) face the same LAN: a host that opens connections
and never uses them must not exhaust file descriptors, and must not lock Home
Assistant out. So there is a cap in all, a lower cap per address, and a share
of the global cap kept for addresses that hold no connection yet: hosts that
already have some fill the rest, and a newcomer still gets in. Refusals are
logged at most once a minute, with how many there were, so a flood cannot fill
the log either.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

_LOGGER = logging.getLogger(__name__)

#: Refusals of connections are logged at most this often.
LOG_EVERY_S = 60.0


def peer_host(peer: Any) -> str:
    """The address a connection comes from; "" for unix sockets and stdio."""
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return ""


@dataclass
class ConnectionBudget:
    """Caps open connections, in all and from one address, keeping room for newcomers."""

    limit: int
    per_peer: int = 16
    #: Which door, for the log line.
    door: str = "Wyoming"
    open: int = 0
    by_host: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    _logged_at: float = -LOG_EVERY_S

    @property
    def reserved(self) -> int:
        """Slots only an address with no connection open may take (a quarter of the cap)."""
        return self.limit // 4 if self.limit >= 4 else 0

    def try_take(self, peer: Any) -> str | None:
        """None when the connection may stay, else why it may not."""
        host = peer_host(peer)
        held = self.by_host.get(host, 0)
        if self.open >= self.limit:
            return self._refuse(peer, f"{self.limit} connections are already open")
        if held >= self.per_peer:
            return self._refuse(peer, f"{self.per_peer} connections from {host} are already open")
        if held and self.open >= self.limit - self.reserved:
            return self._refuse(
                peer,
                f"{self.open} connections are open; the last {self.reserved} are kept for "
                "addresses with none",
            )
        self.open += 1
        self.by_host[host] = held + 1
        return None

    def give_back(self, peer: Any) -> None:
        host = peer_host(peer)
        self.open -= 1
        left = self.by_host.get(host, 1) - 1
        if left > 0:
            self.by_host[host] = left
        else:
            self.by_host.pop(host, None)

    def _refuse(self, peer: Any, why: str) -> str:
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            _LOGGER.warning(
                "Refusing a %s connection from %s: %s (%d refused since the last such line)",
                self.door,
                peer_host(peer) or peer,
                why,
                self.refused,
            )
            self._logged_at, self.refused = now, 0
        return why
