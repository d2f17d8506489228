"""Where the home comes from: Home Assistant, a YAML file, or nowhere (chat only)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from .ha_client import HomeAssistantConnection
from .model import Home, load_home

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_URL = "ws://supervisor/core/websocket"


class HomeSource:
    """The current picture of the home; ``home`` is None until one is known."""

    def __init__(
        self,
        connection: HomeAssistantConnection | None = None,
        home: Home | None = None,
        description: str = "",
    ) -> None:
        self._connection = connection
        self._static = home
        self.description = description

    @property
    def home(self) -> Home | None:
        if self._connection is not None:
            return self._connection.home
        return self._static

    @property
    def connection(self) -> HomeAssistantConnection | None:
        return self._connection

    async def start(self) -> None:
        if self._connection is not None:
            await self._connection.start()

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.stop()


def home_source(
    home_file: Path | None,
    ha_url: str | None,
    ha_token: str | None,
    on_change: Callable[[Home], None] | None = None,
) -> HomeSource | None:
    """The configured source; None (chat-only mode, said once in the log) if there is none."""
    if home_file is not None:
        home = load_home(home_file)
        _LOGGER.info("Controlling the %d entities described in %s", len(home.entities), home_file)
        return HomeSource(home=home, description=str(home_file))
    supervisor_token = os.environ.get("SUPERVISOR_TOKEN")
    if ha_url is None and supervisor_token:
        ha_url, ha_token = SUPERVISOR_URL, supervisor_token
    if ha_url and ha_token:
        return HomeSource(HomeAssistantConnection(ha_url, ha_token, on_change), description=ha_url)
    if ha_url:
        _LOGGER.warning("--ha-url given without a token (RK_ASSIST_HA_TOKEN): chat-only mode")
    else:
        _LOGGER.info("No Home Assistant connection configured: chat-only mode, no home control")
    return None
