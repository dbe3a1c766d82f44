"""A small client of Headwater's HTTP API, for the CLI: the CLI never opens the store itself."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from pipeline.commands import contexts
from schemas.errors import HeadwaterError


class ApiError(HeadwaterError):
    """The API answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    """Calls the API with an API key; errors come back as ApiError with the API's own words."""

    def __init__(self, url: str, key: str | None, *, timeout: float = 10.0) -> None:
        key = key or contexts.key_for(url)  # without --key or HEADWATER_API_KEY: the config file's
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The ``data`` of the answer (None for 204)."""
        try:
            answer = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiError(f"{self._http.base_url} did not answer: {exc}") from exc
        if answer.status_code == 204:
            return None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.is_error:
            detail = (
                body.get("errors", {}).get("detail", answer.text) if isinstance(body, dict) else answer.text
            )
            raise ApiError(f"{method} {path}: {answer.status_code} {detail}", answer.status_code)
        return body.get("data") if isinstance(body, dict) else body
