"""The API application factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse

from pipeline.api import (
    accounts,
    analytics,
    appengine,
    clientroles,
    clients,
    dead_letters,
    devices,
    downlink,
    errors,
    events,
    groups,
    health,
    housekeeping,
    pairing,
    realmconfig,
    realmmanagement,
    triggers,
)
from pipeline.api.aliases import AliasPaths
from pipeline.settings import AuthSettings, SqlSettings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from pipeline.kafka import Topics
    from pipeline.pki import Pki
    from pipeline.registry import Registry
    from pipeline.store.clickhouse import ClickHouseStore


@dataclass
class Platform:
    """What the routes work with; the process that runs the API owns their lifecycles."""

    registry: Registry
    store: ClickHouseStore
    producer: AIOKafkaProducer
    topics: Topics
    instance_id: str
    mqtt_url: str
    metrics_dir: Path | None = None
    mqtts_url: str | None = None
    pki: Pki | None = None
    ready: bool = False
    auth: AuthSettings = field(default_factory=AuthSettings)
    sql: SqlSettings = field(default_factory=SqlSettings)
    # Beside the persist worker: waits (at most the seconds given) until a device's data in Kafka is
    # stored, so a read right after a device's message finds it.
    caught_up: Callable[[str, str, float], Awaitable[bool]] | None = None


def create_app(platform: Platform, *, full: bool = True) -> FastAPI:
    """The FastAPI app with every router mounted under Astarte's prefixes (only health if not ``full``)."""
    app = FastAPI(title="Headwater", version=health.VERSION, description=health.DESCRIPTION)
    app.state.platform = platform
    app.add_middleware(AliasPaths)
    errors.install(app)
    app.include_router(health.router)
    if not full:
        return app

    def mount(router: APIRouter, prefix: str) -> None:
        # Every error answer a route can give is documented here, once, by its prefix.
        app.include_router(router, prefix=prefix, responses=errors.documented(prefix))

    mount(housekeeping.router, "/housekeeping/v1")
    mount(realmmanagement.router, "/realmmanagement/v1/{realm}")
    mount(realmconfig.router, "/realmmanagement/v1/{realm}")
    mount(triggers.router, "/realmmanagement/v1/{realm}")
    mount(dead_letters.router, "/realmmanagement/v1/{realm}")
    mount(accounts.router, "/auth/v1")
    mount(pairing.router, "/pairing/v1/{realm}")
    mount(analytics.router, "/appengine/v1/{realm}")  # before appengine: path suffixes
    mount(appengine.router, "/appengine/v1/{realm}")
    mount(devices.router, "/appengine/v1/{realm}")
    mount(events.router, "/appengine/v1/{realm}")
    mount(downlink.router, "/appengine/v1/{realm}")
    mount(groups.router, "/appengine/v1/{realm}")
    mount(clientroles.router, "/{domain_id}/clients")
    mount(clients.router, "/{domain_id}/clients")

    @app.get("/swagger", include_in_schema=False)
    async def swagger() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
