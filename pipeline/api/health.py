"""``/health`` in Magistrala's shape and ``/metrics`` for Prometheus."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Request, Response

from pipeline import metrics

DESCRIPTION = "Headwater IoT telemetry platform"
try:
    VERSION = version("headwater")
except PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0"
COMMIT = "unknown"
BUILD_TIME = "unknown"

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    responses={
        200: {"content": {"application/health+json": {}}, "description": "Healthy"},
        503: {"content": {"application/health+json": {}}, "description": "Not ready yet"},
    },
)
async def health(request: Request) -> Response:
    platform = request.app.state.platform
    body: dict[str, Any] = {
        "status": "pass" if platform.ready else "fail",
        "version": VERSION,
        "commit": COMMIT,
        "description": DESCRIPTION,
        "build_time": BUILD_TIME,
        "instance_id": platform.instance_id,
    }
    return Response(
        json.dumps(body), status_code=200 if platform.ready else 503, media_type="application/health+json"
    )


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
async def prometheus(request: Request) -> Response:
    body, content_type = metrics.exposition(request.app.state.platform.metrics_dir)
    return Response(body, media_type=content_type)
