"""Domain errors to HTTP answers, in one place, in Astarte's JSON shape ``{"errors": {"detail": ...}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import (
    BadRequestError,
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
)


def error_body(detail: Any) -> dict[str, Any]:
    return {"errors": {"detail": detail}}


def status_of(exc: HeadwaterError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 503 if exc.retriable else 500


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into JSON answers."""

    @app.exception_handler(HeadwaterError)
    async def _domain(_request: Request, exc: HeadwaterError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        return JSONResponse(error_body(str(exc)), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": ".".join(str(p) for p in err.get("loc", ())), "msg": err.get("msg", "")}
            for err in exc.errors()
        ]
        malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
        return JSONResponse(error_body(problems), status_code=400 if malformed else 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.detail), status_code=exc.status_code, headers=exc.headers)
