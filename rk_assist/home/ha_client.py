"""Reading the home from Home Assistant's websocket API, and keeping it current.

One connection: authenticate, read the exposure list and the registries,
then listen. Registry events (exposing an entity changes its registry
options, so that is one of them) trigger a fresh read; state events only
update states. No polling. When Home Assistant restarts the connection
drops; we keep the last picture and reconnect with a growing pause.

The access token is a secret: it is sent once, in the auth message, and
never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from ..errors import AuthenticationError, HomeAssistantError
from .model import Area, Entity, Floor, Home, read_attributes

_LOGGER = logging.getLogger(__name__)
# websockets logs every frame at DEBUG, the auth message with the token too:
# never let that reach a log, whatever level the service runs at.
logging.getLogger("websockets").setLevel(logging.INFO)

REGISTRY_EVENTS = (
    "entity_registry_updated",
    "device_registry_updated",
    "area_registry_updated",
    "floor_registry_updated",
)


class HomeAssistantConnection:
    """Keeps a :class:`Home` in step with Home Assistant."""

    def __init__(
        self,
        url: str,
        token: str,
        on_change: Callable[[Home], None] | None = None,
        retry_max_s: float = 60.0,
    ) -> None:
        self.url = url
        self._token = token
        self._on_change = on_change
        self._retry_max_s = retry_max_s
        self.home: Home | None = None
        self.connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._socket: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Connected or trying to; False once stopped or refused for good (a bad token)."""
        return self._task is not None and not self._task.done()

    def __repr__(self) -> str:  # never show the token
        return f"HomeAssistantConnection({self.url!r})"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="home-assistant")

    async def stop(self) -> None:
        for task in (self._refresh_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._socket is not None:
            await self._socket.close()

    async def call_service(
        self,
        domain: str,
        service: str,
        data: dict[str, Any] | None = None,
        target: dict[str, Any] | None = None,
    ) -> Any:
        message: dict[str, Any] = {"type": "call_service", "domain": domain, "service": service}
        if data:
            message["service_data"] = data
        if target:
            message["target"] = target
        return await self._command(message)

    # -- the connection loop --------------------------------------------------------

    async def _run(self) -> None:
        pause = 1.0
        while True:
            try:
                await self._session()
                pause = 1.0
            except AuthenticationError as err:
                _LOGGER.error("Home Assistant refused the access token (%s); not retrying", err)
                return
            except (TimeoutError, OSError, WebSocketException, HomeAssistantError) as err:
                _LOGGER.warning(
                    "Home Assistant connection lost or refused (%s); retrying in %.0f s",
                    err or type(err).__name__,
                    pause,
                )
            finally:
                self.connected.clear()
                self._fail_pending()
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._retry_max_s)

    async def _session(self) -> None:
        async with connect(self.url, max_size=64 << 20, open_timeout=10) as socket:
            self._socket = socket
            await self._authenticate(socket)
            reader = asyncio.create_task(self._read(socket))
            try:
                await self._subscribe()
                await self._refresh()
                self.connected.set()
                _LOGGER.info("Connected to Home Assistant at %s", self.url)
                await reader
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
                self._socket = None

    async def _authenticate(self, socket: ClientConnection) -> None:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if hello.get("type") != "auth_required":
            raise HomeAssistantError(f"unexpected first message {hello.get('type')!r}")
        await socket.send(json.dumps({"type": "auth", "access_token": self._token}))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if answer.get("type") == "auth_invalid":
            raise AuthenticationError(answer.get("message", "invalid token"))
        if answer.get("type") != "auth_ok":
            raise HomeAssistantError(f"unexpected auth answer {answer.get('type')!r}")

    async def _read(self, socket: ClientConnection) -> None:
        async for raw in socket:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "result":
                future = self._pending.pop(message.get("id"), None)
                if future is not None and not future.done():
                    if message.get("success"):
                        future.set_result(message.get("result"))
                    else:
                        error = message.get("error") or {}
                        future.set_exception(HomeAssistantError(error.get("message", "failed")))
            elif kind == "event":
                self._on_event(message.get("event") or {})
        raise HomeAssistantError("the connection closed")

    async def _command(self, message: dict[str, Any], timeout: float = 30.0) -> Any:
        socket = self._socket
        if socket is None:
            raise HomeAssistantError("not connected to Home Assistant")
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await socket.send(json.dumps({"id": message_id, **message}))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(message_id, None)

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(HomeAssistantError("the connection closed"))
        self._pending.clear()

    async def _subscribe(self) -> None:
        for event_type in ("state_changed", *REGISTRY_EVENTS):
            await self._command({"type": "subscribe_events", "event_type": event_type})

    # -- the picture ----------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        event_type = event.get("event_type")
        data = event.get("data") or {}
        if event_type == "state_changed" and self.home is not None:
            new_state = data.get("new_state") or {}
            entity_id = data.get("entity_id")
            if entity_id:
                if new_state:
                    self.home.states[entity_id] = str(new_state.get("state"))
                    self.home.attributes[entity_id] = read_attributes(new_state.get("attributes"))
                else:
                    self.home.states.pop(entity_id, None)
                    self.home.attributes.pop(entity_id, None)
        elif event_type in REGISTRY_EVENTS and (
            self._refresh_task is None or self._refresh_task.done()
        ):
            self._refresh_task = asyncio.create_task(self._refresh_soon())

    async def _refresh_soon(self) -> None:
        await asyncio.sleep(0.5)  # registry changes come in bursts
        try:
            await self._refresh()
        except (TimeoutError, HomeAssistantError) as err:
            _LOGGER.warning("Could not re-read the home from Home Assistant: %s", err)

    async def _refresh(self) -> None:
        exposed = await self._command({"type": "homeassistant/expose_entity/list"})
        exposed_ids = sorted(
            entity_id
            for entity_id, settings in (exposed.get("exposed_entities") or {}).items()
            if (settings or {}).get("conversation")
        )
        entries = (
            await self._command(
                {"type": "config/entity_registry/get_entries", "entity_ids": exposed_ids}
            )
            if exposed_ids
            else {}
        )
        devices = await self._command({"type": "config/device_registry/list"})
        areas = await self._command({"type": "config/area_registry/list"})
        floors = await self._command({"type": "config/floor_registry/list"})
        states = await self._command({"type": "get_states"})
        home = build_home(exposed_ids, entries or {}, devices, areas, floors, states)
        changed = self.home is None or home.signature() != self.home.signature()
        self.home = home
        if changed:
            _LOGGER.info(
                "Home Assistant exposes %d entities in %d areas",
                len(home.entities),
                len(home.areas),
            )
            if self._on_change is not None:
                self._on_change(home)


def build_home(
    exposed_ids: list[str],
    entries: dict[str, Any],
    devices: list[dict[str, Any]],
    areas: list[dict[str, Any]],
    floors: list[dict[str, Any]],
    states: list[dict[str, Any]],
) -> Home:
    home = Home()
    for floor in floors or []:
        home.floors[floor["floor_id"]] = Floor(
            floor["floor_id"],
            floor.get("name") or floor["floor_id"],
            tuple(floor.get("aliases") or ()),
        )
    for area in areas or []:
        home.areas[area["area_id"]] = Area(
            area["area_id"],
            area.get("name") or area["area_id"],
            tuple(area.get("aliases") or ()),
            area.get("floor_id"),
        )
    device_area = {d["id"]: d.get("area_id") for d in devices or [] if "id" in d}
    home.device_areas = {device: area for device, area in device_area.items() if area}
    state_of = {s["entity_id"]: s for s in states or [] if "entity_id" in s}
    for entity_id in exposed_ids:
        entry = entries.get(entity_id) or {}
        state = state_of.get(entity_id) or {}
        attributes = state.get("attributes") or {}
        name = (
            entry.get("name")
            or attributes.get("friendly_name")
            or entry.get("original_name")
            or entity_id.split(".", 1)[1].replace("_", " ")
        )
        area_id = entry.get("area_id") or device_area.get(entry.get("device_id"))
        device_class = (
            entry.get("device_class")
            or entry.get("original_device_class")
            or attributes.get("device_class")
        )
        home.entities[entity_id] = Entity(
            entity_id,
            name,
            tuple(a for a in entry.get("aliases") or () if a),
            area_id,
            device_class,
        )
        if state:
            home.states[entity_id] = str(state.get("state"))
            home.attributes[entity_id] = read_attributes(attributes)
    return home
