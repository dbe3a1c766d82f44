"""The Astarte interface model and ``parse_interface``, which enforces astarte.md §1.

``parse_interface`` is the one entry point for untrusted JSON: every broken rule
comes out as ``InterfaceError`` naming the field, never as pydantic's error.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.errors import InterfaceError
from schemas.interface_rules import check_interface
from schemas.mapping import (
    DatabaseRetentionPolicy,
    Mapping,
    MappingType,
    Reliability,
    Retention,
)

__all__ = [
    "INTERFACE_NAME_PATTERN",
    "RESERVED_NAMES",
    "Aggregation",
    "DatabaseRetentionPolicy",
    "Interface",
    "InterfaceType",
    "Mapping",
    "MappingType",
    "Ownership",
    "Reliability",
    "Retention",
    "interface_names_collide",
    "parse_interface",
]

INTERFACE_NAME_PATTERN = r"^([a-zA-Z][a-zA-Z0-9]*\.([a-zA-Z0-9][a-zA-Z0-9-]*\.)*)?[a-zA-Z][a-zA-Z0-9]*$"
_NAME_RE = re.compile(INTERFACE_NAME_PATTERN)
RESERVED_NAMES = frozenset({"astarte", "control", "device"})
_LEGACY_OWNERSHIP = {"producer": "device", "consumer": "server"}
_QOS = {Reliability.UNRELIABLE: 0, Reliability.GUARANTEED: 1, Reliability.UNIQUE: 2}


class InterfaceType(StrEnum):
    """Datastreams carry time series; properties carry a persistent state per path."""

    DATASTREAM = "datastream"
    PROPERTIES = "properties"


class Ownership(StrEnum):
    """Who publishes values: the device or the server (legacy producer/consumer)."""

    DEVICE = "device"
    SERVER = "server"

    @classmethod
    def _missing_(cls, value: object) -> Ownership | None:
        legacy = _LEGACY_OWNERSHIP.get(value) if isinstance(value, str) else None
        return cls(legacy) if legacy else None


class Aggregation(StrEnum):
    """One value per path (individual) or one object of all endpoints per prefix."""

    INDIVIDUAL = "individual"
    OBJECT = "object"


def interface_names_collide(a: str, b: str) -> bool:
    """True when two names are equal after removing ``-`` and lowercasing."""
    return a.replace("-", "").lower() == b.replace("-", "").lower()


class Interface(BaseModel):
    """A validated Astarte interface; building one runs every rule of astarte.md §1."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    interface_name: Annotated[StrictStr, Field(max_length=128)]
    version_major: Annotated[StrictInt, Field(ge=0)]
    version_minor: Annotated[StrictInt, Field(ge=0)]
    type: InterfaceType
    ownership: Ownership
    aggregation: Aggregation = Aggregation.INDIVIDUAL
    description: Annotated[StrictStr, Field(max_length=1000)] | None = None
    doc: Annotated[StrictStr, Field(max_length=100_000)] | None = None
    mappings: Annotated[tuple[Mapping, ...], Field(min_length=1, max_length=1024)]

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        """Map legacy ``quality`` and ``aggregate`` onto ownership and aggregation."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        quality = data.pop("quality", None)
        if data.get("ownership") is None and quality is not None:
            data["ownership"] = quality
        if isinstance(data.get("ownership"), str):
            data["ownership"] = _LEGACY_OWNERSHIP.get(data["ownership"], data["ownership"])
        if data.pop("aggregate", None) is True and data.get("aggregation") is None:
            data["aggregation"] = Aggregation.OBJECT.value
        return data

    @field_validator("interface_name")
    @classmethod
    def _name_rules(cls, value: str) -> str:
        if _NAME_RE.fullmatch(value) is None:
            raise ValueError(f"{value!r} must match {INTERFACE_NAME_PATTERN}")
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved")
        return value

    @model_validator(mode="after")
    def _cross_rules(self) -> Interface:
        if self.version_major == 0 and self.version_minor == 0:
            raise InterfaceError(
                "version_minor: must be > 0 when version_major is 0 (0.0 is refused)",
                field="version_minor",
            )
        check_interface(self)
        return self

    @property
    def name(self) -> str:
        """The interface name (``interface_name``)."""
        return self.interface_name

    @property
    def major(self) -> int:
        """The major version (``version_major``)."""
        return self.version_major

    @property
    def minor(self) -> int:
        """The minor version (``version_minor``)."""
        return self.version_minor

    @property
    def is_object(self) -> bool:
        """True for object aggregation."""
        return self.aggregation is Aggregation.OBJECT

    def qos_for(self, mapping: Mapping) -> int:
        """MQTT QoS for publishing on ``mapping``: properties 2, datastream by reliability."""
        if self.type is InterfaceType.PROPERTIES:
            return 2
        return _QOS[mapping.reliability]

    def to_json(self) -> dict[str, Any]:
        """Canonical Astarte JSON with defaults filled in; ``parse_interface`` inverts it."""
        datastream = self.type is InterfaceType.DATASTREAM
        out: dict[str, Any] = {
            "interface_name": self.interface_name,
            "version_major": self.version_major,
            "version_minor": self.version_minor,
            "type": self.type.value,
            "ownership": self.ownership.value,
            "aggregation": self.aggregation.value,
        }
        if self.description is not None:
            out["description"] = self.description
        if self.doc is not None:
            out["doc"] = self.doc
        out["mappings"] = [
            m.to_json(datastream=datastream, object_aggregation=self.is_object) for m in self.mappings
        ]
        return out


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "interface"


def _from_validation_error(exc: ValidationError) -> InterfaceError:
    error = exc.errors(include_url=False)[0]
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    field = _field_path(loc)
    msg = str(error["msg"]).removeprefix("Value error, ").replace("Tuple", "List").replace("tuple", "list")
    if error["type"] == "missing":
        msg = "is required"
    return InterfaceError(f"{field}: {msg}", field=field)


def parse_interface(data: object) -> Interface:
    """Validate Astarte interface JSON (a dict, str or bytes) into an ``Interface``."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InterfaceError(f"interface: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InterfaceError("interface: must be a JSON object")
    try:
        return Interface.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None
