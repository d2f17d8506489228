"""Talking to a real Home Assistant as its frontend does: REST and the websocket API.

Onboarding, registries, exposure and config flows are driven through the
same calls the UI makes, with the forms filled as the UI fills them (its
defaults and suggested values, the user's choices on top), so what Home
Assistant stores and later sends to rk-assist is what a user's setup gives.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

CLIENT_ID = "http://127.0.0.1/"


class FlowError(RuntimeError):
    """A config flow ended somewhere other than a created entry."""


class HomeAssistant:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = ""
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> HomeAssistant:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        assert self._session is not None
        await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    async def onboard(self) -> str:
        """The first user, the remaining onboarding steps, and a long-lived token.

        The `core_config` step is skipped: it sets up a weather integration
        that needs the internet.
        """
        user = await self._post_json(
            "/api/onboarding/users",
            {
                "client_id": CLIENT_ID,
                "name": "Test",
                "username": "test",
                "password": "test-password-1",
                "language": "en",
            },
            auth=False,
        )
        async with self.session.post(
            self.base_url + "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": user["auth_code"],
                "client_id": CLIENT_ID,
            },
        ) as response:
            response.raise_for_status()
            self.token = (await response.json())["access_token"]
        await self._post_json("/api/onboarding/analytics", {})
        await self._post_json(
            "/api/onboarding/integration",
            {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID + "?auth_callback=1"},
        )
        self.token = await self.ws(
            "auth/long_lived_access_token", client_name="rk-assist", lifespan=1
        )
        return self.token

    async def ws(self, kind: str, **fields: Any) -> Any:
        """One websocket command and its result (the connection is opened once, and again
        where Home Assistant closed it: it does so to a connection left idle for minutes)."""
        for attempt in (1, 2):
            if self._ws is not None and self._ws.closed:
                self._ws = None
            try:
                return await self._ws_command(kind, fields)
            except (ConnectionError, aiohttp.ClientError, TypeError):
                # (A closed socket's next message is no JSON: TypeError.)
                self._ws = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _ws_command(self, kind: str, fields: dict[str, Any]) -> Any:
        if self._ws is None:
            self._ws = await self.session.ws_connect(self.base_url + "/api/websocket")
            await self._ws.receive_json()
            await self._ws.send_json({"type": "auth", "access_token": self.token})
            reply = await self._ws.receive_json()
            if reply.get("type") != "auth_ok":
                raise RuntimeError(f"websocket auth failed: {reply}")
        message_id = next(self._ids)
        await self._ws.send_json({"id": message_id, "type": kind, **fields})
        while True:
            reply = await self._ws.receive_json()
            if reply.get("id") == message_id and reply.get("type") == "result":
                break
        if not reply["success"]:
            raise RuntimeError(f"{kind}: {reply['error']}")
        return reply["result"]

    async def running(self, timeout: float = 900.0) -> None:
        """Wait until start-up is over: the demo's devices appear after the API answers
        (the first start in a new root also installs what its integrations still need)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (await self.ws("get_config"))["state"] != "RUNNING":
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"Home Assistant not running after {timeout:.0f} s")
            await asyncio.sleep(0.5)

    async def states(self) -> dict[str, dict[str, Any]]:
        return {state["entity_id"]: state for state in await self._get_json("/api/states")}

    async def call_service(self, domain: str, service: str, **data: Any) -> None:
        await self._post_json(f"/api/services/{domain}/{service}", data)

    async def process(
        self,
        text: str,
        agent_id: str,
        language: str = "en",
        conversation_id: str | None = None,
        device_id: str | None = None,
    ) -> dict[str, Any]:
        """What a voice pipeline does with a transcript: the agent's whole response
        (``conversation_id`` carries on the conversation a response named; ``device_id``
        is the device that heard it, as a satellite's pipeline says)."""
        body = {"text": text, "agent_id": agent_id, "language": language}
        if conversation_id:
            body["conversation_id"] = conversation_id
        if device_id:
            body["device_id"] = device_id
        return await self._post_json("/api/conversation/process", body)

    async def device_of(self, entity_id: str) -> str | None:
        """The device an entity belongs to (the demo's devices stand in for satellites)."""
        entry = await self.ws("config/entity_registry/get", entity_id=entity_id)
        return entry.get("device_id")

    async def add_entry(self, handler: str, choices: dict[str, Any]) -> dict[str, Any]:
        """Add an integration through its config flow, every form filled as the UI would."""
        step = await self._post_json(
            "/api/config/config_entries/flow",
            {"handler": handler, "show_advanced_options": False},
        )
        while step["type"] == "form":
            step = await self._post_json(
                f"/api/config/config_entries/flow/{step['flow_id']}",
                ui_form(step, choices),
            )
        if step["type"] != "create_entry":
            raise FlowError(f"{handler}: the flow ended with {step}")
        return step["result"]

    async def add_subentry(
        self, entry_id: str, kind: str, choices: dict[str, Any]
    ) -> dict[str, Any]:
        """Add a subentry (a conversation agent of an AI integration) as the UI does."""
        step = await self._post_json(
            "/api/config/config_entries/subentries/flow",
            {"handler": [entry_id, kind], "show_advanced_options": False},
        )
        while step["type"] == "form":
            step = await self._post_json(
                f"/api/config/config_entries/subentries/flow/{step['flow_id']}",
                ui_form(step, choices),
            )
        if step["type"] != "create_entry":
            raise FlowError(f"{kind} of {entry_id}: the flow ended with {step}")
        return step

    async def agent_of(self, platform: str, timeout: float = 60.0) -> str:
        """The conversation entity an integration created (its entry reloads to make it)."""
        return await self.entity_of(platform, "conversation", timeout)

    async def entity_of(self, platform: str, domain: str, timeout: float = 60.0) -> str:
        """The first ``domain`` entity an integration created."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for entry in await self.ws("config/entity_registry/list"):
                if entry["platform"] == platform and entry["entity_id"].startswith(domain + "."):
                    return entry["entity_id"]
            await asyncio.sleep(0.5)
        raise RuntimeError(f"no {domain} entity from {platform} within {timeout:.0f} s")

    async def pipeline_run(self, **fields: Any) -> AsyncIterator[dict[str, Any]]:
        """An Assist pipeline's events as they come (``assist_pipeline/run``), on a
        connection of their own, until the run ends."""
        async with self.session.ws_connect(self.base_url + "/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (await ws.receive_json()).get("type") != "auth_ok":
                raise RuntimeError("websocket auth failed")
            await ws.send_json({"id": 1, "type": "assist_pipeline/run", **fields})
            while True:
                message = await ws.receive_json()
                if message.get("type") == "result" and not message.get("success"):
                    raise RuntimeError(f"assist_pipeline/run: {message.get('error')}")
                if message.get("type") != "event":
                    continue
                yield message["event"]
                if message["event"]["type"] == "run-end":
                    return

    async def _get_json(self, path: str) -> Any:
        async with self.session.get(self.base_url + path, headers=self._auth()) as response:
            response.raise_for_status()
            return await response.json()

    async def _post_json(self, path: str, body: dict[str, Any], auth: bool = True) -> Any:
        headers = self._auth() if auth else {}
        async with self.session.post(self.base_url + path, json=body, headers=headers) as response:
            text = await response.text()
            if response.status >= 400:
                raise RuntimeError(f"POST {path}: HTTP {response.status}: {text[:500]}")
            return await response.json(content_type=None) if text else None

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def ui_form(step: dict[str, Any], choices: dict[str, Any]) -> dict[str, Any]:
    """A form's fields as the frontend submits them: defaults and suggestions, then choices."""
    data: dict[str, Any] = {}
    for field in step.get("data_schema") or []:
        name = field["name"]
        if name in choices:
            data[name] = choices[name]
        elif "default" in field:
            data[name] = field["default"]
        elif "suggested_value" in (field.get("description") or {}):
            data[name] = field["description"]["suggested_value"]
    return data
