"""Request bodies: Astarte wraps every payload in ``{"data": ...}``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """``{"data": ...}``."""

    data: T


class RealmCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    realm_name: str
    jwt_public_key_pem: str | None = None


class AgentRegistration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hw_id: str
    initial_introspection: dict[str, Any] | None = None
