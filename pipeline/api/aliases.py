"""``/appengine/v1/{realm}/devices-by-alias/{alias}/...``: the device tree, reached by an alias.

An ASGI middleware resolves the alias and hands the request on as the same
request under ``/devices/{device_id}/...``, so every device route (reads,
writes, exports, aggregates) and its permission check apply unchanged.
An alias that names no device is handed on too, marked: the route's caller
check answers 401 or 403 first and only then 404, so an anonymous caller
cannot learn which aliases exist.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.api.auth import UNKNOWN_ALIAS
from pipeline.errors import NotFoundError
from pipeline.registry.metadata import DeviceMetadata

# Stands for the device of an unknown alias; never a device id (those are 22 base64url characters).
_NOBODY = "-"
_ALIASED = re.compile(r"^/appengine/v1/(?P<realm>[^/]+)/devices-by-alias/(?P<alias>[^/]+)(?P<rest>/.+)$")


class AliasPaths:
    """Rewrites aliased device paths to device-id paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ALIASED.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        realm, alias = unquote(match["realm"]), unquote(match["alias"])
        registry = scope["app"].state.platform.registry
        unknown: str | None = None
        try:
            device_id = await DeviceMetadata(registry).device_by_alias(realm, alias)
        except NotFoundError as exc:
            device_id, unknown = _NOBODY, str(exc)
        path = f"/appengine/v1/{match['realm']}/devices/{quote(device_id)}{match['rest']}"
        rewritten: dict[str, Any] = {**scope, "path": unquote(path), "raw_path": path.encode()}
        if unknown is not None:
            rewritten[UNKNOWN_ALIAS] = unknown
        await self.app(rewritten, receive, send)
