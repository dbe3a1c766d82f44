"""The API application factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from pipeline.api import (
    accounts,
    analytics,
    appengine,
    clientroles,
    clients,
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
from pipeline.settings import AuthSettings

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
    app.include_router(housekeeping.router, prefix="/housekeeping/v1")
    app.include_router(realmmanagement.router, prefix="/realmmanagement/v1/{realm}")
    app.include_router(realmconfig.router, prefix="/realmmanagement/v1/{realm}")
    app.include_router(triggers.router, prefix="/realmmanagement/v1/{realm}")
    app.include_router(accounts.router, prefix="/auth/v1")
    app.include_router(pairing.router, prefix="/pairing/v1/{realm}")
    app.include_router(analytics.router, prefix="/appengine/v1/{realm}")  # before appengine: path suffixes
    app.include_router(appengine.router, prefix="/appengine/v1/{realm}")
    app.include_router(devices.router, prefix="/appengine/v1/{realm}")
    app.include_router(events.router, prefix="/appengine/v1/{realm}")
    app.include_router(downlink.router, prefix="/appengine/v1/{realm}")
    app.include_router(groups.router, prefix="/appengine/v1/{realm}")
    app.include_router(clientroles.router, prefix="/{domain_id}/clients")
    app.include_router(clients.router, prefix="/{domain_id}/clients")

    @app.get("/swagger", include_in_schema=False)
    async def swagger() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
