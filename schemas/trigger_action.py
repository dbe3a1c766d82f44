"""The HTTP action of a trigger: URL, method, static headers, template (astarte.md §6).

Legacy ``http_post_url`` is read as ``http_url`` with method ``post``;
``to_json`` always writes the current form.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator, model_validator

__all__ = ["FORBIDDEN_HEADERS", "MAX_HEADERS_BYTES", "HttpAction", "HttpMethod", "TemplateType"]

MAX_HEADERS_BYTES = 8192
"""Largest total size of ``http_static_headers`` (names plus values, UTF-8)."""
FORBIDDEN_HEADERS = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length"}
)
"""Hop-by-hop and framing headers a trigger may not set (plus every ``proxy-*``)."""
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class HttpMethod(StrEnum):
    """The HTTP methods Astarte accepts for an action, lowercase."""

    DELETE = "delete"
    GET = "get"
    HEAD = "head"
    OPTIONS = "options"
    PATCH = "patch"
    POST = "post"
    PUT = "put"


class TemplateType(StrEnum):
    """How ``template`` is rendered; only mustache exists."""

    MUSTACHE = "mustache"


def _header_problem(headers: dict[str, str]) -> str | None:
    size = 0
    for name, value in headers.items():
        lower = name.lower()
        if not _TOKEN_RE.fullmatch(name):
            return f"header name {name!r} is not an HTTP token"
        if lower in FORBIDDEN_HEADERS or lower.startswith("proxy-"):
            return f"header {name!r} is hop-by-hop or set by the sender and cannot be static"
        if "\r" in value or "\n" in value or "\0" in value:
            return f"header {name!r} has a control character in its value"
        size += len(name.encode()) + len(value.encode())
    if size > MAX_HEADERS_BYTES:
        return f"headers total {size} bytes, more than {MAX_HEADERS_BYTES}"
    return None


class HttpAction(BaseModel):
    """Where and how a trigger's events are sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_url: Annotated[StrictStr, Field(min_length=1, max_length=8192)]
    http_method: HttpMethod
    http_static_headers: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    ignore_ssl_errors: StrictBool = False
    template: StrictStr | None = None
    template_type: TemplateType | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_post_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "http_post_url" in data:
            if "http_url" in data:
                raise ValueError("give http_url or the legacy http_post_url, not both")
            if data.get("http_method", "post") != "post":
                raise ValueError("the legacy http_post_url always uses http_method 'post'")
            url = data["http_post_url"]
            data = {k: v for k, v in data.items() if k != "http_post_url"}
            data["http_url"] = url
            data["http_method"] = "post"
        return data

    @field_validator("http_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} must be an absolute http:// or https:// URL")
        return value

    @field_validator("http_static_headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        problem = _header_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _template_pair(self) -> HttpAction:
        if self.template_type is not None and self.template is None:
            raise ValueError("template_type needs a template")
        if self.template is not None and self.template_type is None:
            raise ValueError("template needs template_type 'mustache'")
        return self

    def to_json(self) -> dict[str, Any]:
        """Astarte's action JSON (current form, never the legacy key)."""
        out: dict[str, Any] = {"http_url": self.http_url, "http_method": self.http_method.value}
        if self.http_static_headers:
            out["http_static_headers"] = dict(self.http_static_headers)
        out["ignore_ssl_errors"] = self.ignore_ssl_errors
        if self.template is not None and self.template_type is not None:
            out["template"] = self.template
            out["template_type"] = self.template_type.value
        return out
