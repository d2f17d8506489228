"""A stand-in Home Assistant speaking the real websocket API on localhost.

It implements what rk-assist uses: the auth flow (auth_required, auth, auth_ok
or auth_invalid), result messages, event subscriptions, the exposure list,
the registries, states and call_service, built from a YAML home. Tests push
events and restart it to check the client keeps up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import yaml
from websockets.asyncio.server import Server, ServerConnection, serve


class StandInHomeAssistant:
    def __init__(self, home_file: Path, token: str = "good-token") -> None:
        raw = yaml.safe_load(home_file.read_text())
        self.token = token
        self.floors = [
            {"floor_id": f["id"], "name": f["name"], "aliases": f.get("aliases") or []}
            for f in raw.get("floors", [])
        ]
        self.areas = [
            {
                "area_id": a["id"],
                "name": a["name"],
                "aliases": a.get("aliases") or [],
                "floor_id": a.get("floor"),
            }
            for a in raw.get("areas", [])
        ]
        self.devices: list[dict[str, Any]] = []
        self.entries: dict[str, dict[str, Any]] = {}
        self.exposed: dict[str, bool] = {}
        self.states: dict[str, dict[str, Any]] = {}
        for index, item in enumerate(raw["entities"]):
            entry = {
                "entity_id": item["id"],
                "name": item["name"],
                "aliases": item.get("aliases") or [],
                "area_id": item.get("area"),
                "device_id": None,
                "device_class": item.get("device_class"),
            }
            if index % 5 == 0 and item.get("area"):  # some get their area from their device
                device_id = f"device{index}"
                self.devices.append({"id": device_id, "area_id": item["area"], "name": "dev"})
                entry["area_id"], entry["device_id"] = None, device_id
            self.entries[item["id"]] = entry
            self.exposed[item["id"]] = item.get("exposed", True)
            self.states[item["id"]] = {
                "entity_id": item["id"],
                "state": str(item.get("state")),
                "attributes": {"friendly_name": item["name"], **(item.get("attributes") or {})},
            }
        self.service_calls: list[dict[str, Any]] = []
        self.received_tokens: list[str] = []
        self._server: Server | None = None
        self._port = 0
        self._connections: dict[ServerConnection, dict[str, int]] = {}

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/api/websocket"

    async def start(self) -> str:
        self._server = await serve(self._handle, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1] if self._port == 0 else self._port
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._connections.clear()

    async def restart(self, down_for: float = 0.3) -> None:
        await self.stop()
        await asyncio.sleep(down_for)
        await self.start()

    async def push_event(self, event_type: str, data: dict[str, Any]) -> None:
        for socket, subscriptions in list(self._connections.items()):
            if event_type in subscriptions:
                with contextlib.suppress(Exception):
                    await socket.send(
                        json.dumps(
                            {
                                "id": subscriptions[event_type],
                                "type": "event",
                                "event": {"event_type": event_type, "data": data},
                            }
                        )
                    )

    async def _handle(self, socket: ServerConnection) -> None:
        await socket.send(json.dumps({"type": "auth_required", "ha_version": "2026.11.0"}))
        auth = json.loads(await socket.recv())
        self.received_tokens.append(auth.get("access_token"))
        if auth.get("type") != "auth" or auth.get("access_token") != self.token:
            await socket.send(json.dumps({"type": "auth_invalid", "message": "Invalid access"}))
            return
        await socket.send(json.dumps({"type": "auth_ok", "ha_version": "2026.11.0"}))
        self._connections[socket] = {}
        try:
            async for raw in socket:
                message = json.loads(raw)
                await socket.send(json.dumps(self._answer(socket, message)))
        finally:
            self._connections.pop(socket, None)

    def _answer(self, socket: ServerConnection, message: dict[str, Any]) -> dict[str, Any]:
        kind, message_id = message.get("type"), message.get("id")
        result: Any = None
        if kind == "subscribe_events":
            self._connections[socket][message["event_type"]] = message_id
        elif kind == "homeassistant/expose_entity/list":
            result = {
                "exposed_entities": {
                    entity_id: {"conversation": exposed, "cloud.alexa": False}
                    for entity_id, exposed in self.exposed.items()
                }
            }
        elif kind == "config/entity_registry/get_entries":
            result = {entity_id: self.entries.get(entity_id) for entity_id in message["entity_ids"]}
        elif kind == "config/device_registry/list":
            result = self.devices
        elif kind == "config/area_registry/list":
            result = self.areas
        elif kind == "config/floor_registry/list":
            result = self.floors
        elif kind == "get_states":
            result = list(self.states.values())
        elif kind == "call_service":
            self.service_calls.append(message)
        else:
            return {
                "id": message_id,
                "type": "result",
                "success": False,
                "error": {"code": "unknown_command", "message": "Unknown command."},
            }
        return {"id": message_id, "type": "result", "success": True, "result": result}
