"""One mapping of an Astarte interface: an endpoint template and the type of its values.

Field-level rules live here (endpoint syntax, lengths, TTL bounds); rules that
need the whole interface live in ``schemas.interface_rules``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

__all__ = [
    "ENDPOINT_PATTERN",
    "MAX_ARRAY_ITEMS",
    "MAX_BYTES",
    "DatabaseRetentionPolicy",
    "Mapping",
    "MappingType",
    "Reliability",
    "Retention",
    "endpoint_tokens",
    "normalize_endpoint",
    "placeholder_name",
]

ENDPOINT_PATTERN = r"^(/(%\{([a-zA-Z_][a-zA-Z0-9_]*)\}|[a-zA-Z_][a-zA-Z0-9_]*)){1,64}$"
_ENDPOINT_RE = re.compile(ENDPOINT_PATTERN)
_PLACEHOLDER_RE = re.compile(r"%\{[a-zA-Z_][a-zA-Z0-9_]*\}")

MAX_BYTES = 65536
"""Largest string or binaryblob value, in bytes."""
MAX_ARRAY_ITEMS = 1024
"""Largest number of items in an array value."""
MIN_TTL = 60
MAX_TTL_EXCLUSIVE = 20 * 365 * 24 * 60 * 60  # 630720000 s, Astarte's bound


class MappingType(StrEnum):
    """The type of a mapping's values, as spelled in interface JSON."""

    DOUBLE = "double"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    LONGINTEGER = "longinteger"
    STRING = "string"
    BINARYBLOB = "binaryblob"
    DATETIME = "datetime"
    DOUBLEARRAY = "doublearray"
    INTEGERARRAY = "integerarray"
    BOOLEANARRAY = "booleanarray"
    LONGINTEGERARRAY = "longintegerarray"
    STRINGARRAY = "stringarray"
    BINARYBLOBARRAY = "binaryblobarray"
    DATETIMEARRAY = "datetimearray"

    @property
    def is_array(self) -> bool:
        """True for the ``…array`` types."""
        return self.value.endswith("array")

    @property
    def element(self) -> MappingType:
        """The scalar type of an array's items (the type itself for scalars)."""
        return MappingType(self.value[: -len("array")]) if self.is_array else self


class Reliability(StrEnum):
    """Delivery guarantee of a datastream mapping; decides the MQTT QoS."""

    UNRELIABLE = "unreliable"
    GUARANTEED = "guaranteed"
    UNIQUE = "unique"


class Retention(StrEnum):
    """What happens to a server→device datastream message while the device is away."""

    DISCARD = "discard"
    VOLATILE = "volatile"
    STORED = "stored"


class DatabaseRetentionPolicy(StrEnum):
    """Whether stored datastream values expire (``use_ttl``) or not."""

    NO_TTL = "no_ttl"
    USE_TTL = "use_ttl"


def endpoint_tokens(endpoint: str) -> list[str]:
    """Split an endpoint template or a path into its tokens (no leading empty token)."""
    return endpoint.split("/")[1:]


def placeholder_name(token: str) -> str | None:
    """The parameter name of a ``%{name}`` token, or None for a literal token."""
    if token.startswith("%{") and token.endswith("}"):
        return token[2:-1]
    return None


def normalize_endpoint(endpoint: str) -> str:
    """Remove placeholders and lowercase: two endpoints equal this way clash."""
    return _PLACEHOLDER_RE.sub("", endpoint).lower()


class Mapping(BaseModel):
    """One endpoint of an interface with its value type and delivery options.

    Defaults are Astarte's; the fields that only make sense for one interface
    type are checked against it by the enclosing ``Interface``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    endpoint: Annotated[StrictStr, Field(min_length=2, max_length=256)]
    type: MappingType
    reliability: Reliability = Reliability.UNRELIABLE
    retention: Retention = Retention.DISCARD
    expiry: Annotated[StrictInt, Field(ge=0)] = 0
    database_retention_policy: DatabaseRetentionPolicy = DatabaseRetentionPolicy.NO_TTL
    database_retention_ttl: Annotated[StrictInt, Field(ge=MIN_TTL, lt=MAX_TTL_EXCLUSIVE)] | None = None
    allow_unset: StrictBool = False
    explicit_timestamp: StrictBool = False
    required: StrictBool = False
    description: Annotated[StrictStr, Field(max_length=1000)] | None = None
    doc: Annotated[StrictStr, Field(max_length=100_000)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_path(cls, data: Any) -> Any:
        """Accept the legacy ``path`` key as ``endpoint``, as Astarte does."""
        if isinstance(data, dict) and "endpoint" not in data and "path" in data:
            data = {**data, "endpoint": data["path"]}
        return data

    @field_validator("endpoint")
    @classmethod
    def _endpoint_syntax(cls, value: str) -> str:
        if _ENDPOINT_RE.fullmatch(value) is None:
            raise ValueError(f"{value!r} must match {ENDPOINT_PATTERN}")
        names = [n for n in map(placeholder_name, endpoint_tokens(value)) if n]
        if len(names) != len(set(names)):
            raise ValueError(f"{value!r} repeats a placeholder name")
        return value

    @property
    def tokens(self) -> list[str]:
        """The endpoint's tokens, placeholders included as ``%{name}``."""
        return endpoint_tokens(self.endpoint)

    @property
    def last_token(self) -> str:
        """The last endpoint token: the key of this mapping inside an object."""
        return self.endpoint.rsplit("/", 1)[1]

    @property
    def prefix(self) -> str:
        """The endpoint without its last token (``""`` for a one-level endpoint)."""
        return self.endpoint.rsplit("/", 1)[0]

    def to_json(self, *, datastream: bool, object_aggregation: bool) -> dict[str, Any]:
        """Canonical Astarte JSON of this mapping, defaults of its interface type filled in."""
        out: dict[str, Any] = {"endpoint": self.endpoint, "type": self.type.value}
        if datastream:
            out["reliability"] = self.reliability.value
            out["retention"] = self.retention.value
            out["expiry"] = self.expiry
            out["database_retention_policy"] = self.database_retention_policy.value
            if self.database_retention_ttl is not None:
                out["database_retention_ttl"] = self.database_retention_ttl
            out["explicit_timestamp"] = self.explicit_timestamp
        else:
            out["allow_unset"] = self.allow_unset
        if object_aggregation:
            out["required"] = self.required
        if self.description is not None:
            out["description"] = self.description
        if self.doc is not None:
            out["doc"] = self.doc
        return out
