"""Domain errors to HTTP answers, in one place, in Astarte's JSON shape ``{"errors": {"detail": ...}}``.

The Magistrala clients API (``/{domain_id}/clients``) answers in Magistrala's shape instead:
``{"error": <what went wrong>, "message": <its kind>}``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.api.auth import route_template
from pipeline.errors import (
    BadRequestError,
    BusyError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from schemas.errors import HeadwaterError, InterfaceError

_STATUS: tuple[tuple[type[HeadwaterError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (BadRequestError, 400),
    (InterfaceError, 422),
    (ValidationError, 422),
    (BusyError, 429),
)


_MAGISTRALA_PREFIX = "/{domain_id}/clients"
_MAGISTRALA_MESSAGES = {
    400: "malformed entity specification",
    401: "failed to perform authentication over the entity",
    403: "failed to perform authorization over the entity",
    404: "entity not found",
    409: "entity already exists",
    422: "malformed entity specification",
}


class _Detail(BaseModel):
    detail: Any


class ErrorBody(BaseModel):
    """Astarte's error JSON."""

    errors: _Detail


class MagistralaErrorBody(BaseModel):
    """Magistrala's error JSON."""

    error: str
    message: str


_DOCUMENTED = {
    400: "Malformed request",
    401: "Missing or unknown credentials",
    403: "Credentials without the right",
    404: "Not found",
    409: "Conflict with what exists",
    422: "A request that breaks a rule",
    429: "Busy: try again later",
}


def documented(prefix: str) -> dict[int | str, dict[str, Any]]:
    """The error answers ``install`` can give on routes under ``prefix``, for the OpenAPI document."""
    model = MagistralaErrorBody if prefix.startswith(_MAGISTRALA_PREFIX) else ErrorBody
    return {status: {"model": model, "description": text} for status, text in _DOCUMENTED.items()}


def error_body(detail: Any) -> dict[str, Any]:
    return {"errors": {"detail": detail}}


def magistrala_body(status: int, detail: Any) -> dict[str, Any]:
    """Magistrala's error JSON: the detail as ``error``, the kind of failure as ``message``."""
    if isinstance(detail, list):
        detail = "; ".join(f"{problem['loc']}: {problem['msg']}" for problem in detail)
    message = _MAGISTRALA_MESSAGES.get(status, "unexpected server-side error")
    return {"error": str(detail), "message": message}


def _answer(
    request: Request, detail: Any, status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    if route_template(request).startswith(_MAGISTRALA_PREFIX):
        return JSONResponse(magistrala_body(status, detail), status_code=status, headers=headers)
    return JSONResponse(error_body(detail), status_code=status, headers=headers)


def status_of(exc: HeadwaterError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 503 if exc.retriable else 500


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into JSON answers."""

    @app.exception_handler(HeadwaterError)
    async def _domain(request: Request, exc: HeadwaterError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        return _answer(request, str(exc), status_of(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": ".".join(str(p) for p in err.get("loc", ())), "msg": err.get("msg", "")}
            for err in exc.errors()
        ]
        malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
        return _answer(request, problems, 400 if malformed else 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path only.
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app, request.url.path))}
        return _answer(request, exc.detail, exc.status_code, headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the OpenAPI document declares at ``path`` (``{path}`` spans segments)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        if path_pattern(template).fullmatch(path):
            methods.update(method.upper() for method in operations)
    return sorted(methods)


@functools.lru_cache(maxsize=512)
def path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    return re.compile(
        "".join(
            (".+" if part == "{path}" else "[^/]+") if part.startswith("{") else re.escape(part)
            for part in parts
        )
    )
