"""Who is calling: API keys as ``Authorization: Bearer <key>`` or ``X-API-KEY``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from pipeline.errors import UnauthorizedError
from pipeline.registry import ApiKeyRecord


async def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKeyRecord:
    """The API key record of the caller; 401 when missing or unknown."""
    key = x_api_key
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            key = credentials.strip()
    if not key:
        raise UnauthorizedError("missing credentials: send Authorization: Bearer <api key>")
    record: ApiKeyRecord | None = await request.app.state.platform.registry.verify_api_key(key)
    if record is None:
        raise UnauthorizedError("unknown, expired or revoked API key")
    return record


Caller = Annotated[ApiKeyRecord, Depends(caller)]
