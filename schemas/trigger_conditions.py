"""Simple triggers (data_trigger, device_trigger) and their typed value operators.

A data trigger's ``known_value`` is JSON as Astarte takes it; ``typed_known_value``
converts it with the mapping's JSON converter (binaryblob base64 -> bytes,
datetime ISO-8601 -> µs, longinteger decimal string -> int), and
``value_predicate`` builds the test a reading's canonical value must pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator, model_validator

from schemas.endpoints import EndpointTrie
from schemas.interface import INTERFACE_NAME_PATTERN
from schemas.mapping import ENDPOINT_PATTERN, MappingType
from schemas.names import device_id_error
from schemas.trigger_errors import TriggerError
from schemas.values import ValueRefused, json_converter

if TYPE_CHECKING:
    from schemas.interface import Interface

__all__ = [
    "ANY_DEVICE",
    "ANY_INTERFACE",
    "ANY_PATH",
    "DataTrigger",
    "DataTriggerOn",
    "DeviceTrigger",
    "DeviceTriggerOn",
    "Operator",
    "Predicate",
    "check_against",
    "typed_known_value",
    "value_predicate",
]

ANY_INTERFACE = "*"
ANY_PATH = "/*"
ANY_DEVICE = "*"
_INTERFACE_RE = re.compile(INTERFACE_NAME_PATTERN)
_PATH_RE = re.compile(ENDPOINT_PATTERN)

Predicate = Callable[[object], bool]


class DataTriggerOn(StrEnum):
    """When a data trigger fires, as Astarte names it."""

    INCOMING_DATA = "incoming_data"
    VALUE_STORED = "value_stored"
    PATH_CREATED = "path_created"
    VALUE_CHANGE = "value_change"
    VALUE_CHANGE_APPLIED = "value_change_applied"
    PATH_REMOVED = "path_removed"


class DeviceTriggerOn(StrEnum):
    """The device events a device trigger can watch."""

    DEVICE_CONNECTED = "device_connected"
    DEVICE_DISCONNECTED = "device_disconnected"
    DEVICE_ERROR = "device_error"
    DEVICE_REGISTERED = "device_registered"
    DEVICE_DELETION_STARTED = "device_deletion_started"
    DEVICE_DELETION_FINISHED = "device_deletion_finished"
    INCOMING_INTROSPECTION = "incoming_introspection"
    INTERFACE_ADDED = "interface_added"
    INTERFACE_REMOVED = "interface_removed"
    INTERFACE_MINOR_UPDATED = "interface_minor_updated"
    DEVICE_EMPTY_CACHE_RECEIVED = "device_empty_cache_received"


class Operator(StrEnum):
    """``value_match_operator``: how a reading's value is compared with ``known_value``."""

    ANY = "*"
    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"


_ORDERED = frozenset(
    {
        MappingType.DOUBLE,
        MappingType.INTEGER,
        MappingType.LONGINTEGER,
        MappingType.DATETIME,
        MappingType.STRING,
    }
)
_CONTAINERS = frozenset({MappingType.STRING, MappingType.BINARYBLOB})
_ORDERING = frozenset({Operator.GT, Operator.GE, Operator.LT, Operator.LE})
_CONTAINMENT = frozenset({Operator.CONTAINS, Operator.NOT_CONTAINS})


def _check_scope(device_id: str | None, group_name: str | None) -> None:
    if device_id is not None and group_name is not None:
        raise ValueError("give device_id or group_name, not both")
    if device_id is not None and device_id != ANY_DEVICE and (problem := device_id_error(device_id)):
        raise ValueError(f"device_id: {problem}")
    if group_name is not None and (not group_name or group_name[0] in "~@" or len(group_name) > 128):
        raise ValueError(f"group_name: {group_name!r} must be 1..128 characters not starting with ~ or @")


class DataTrigger(BaseModel):
    """A data_trigger: which readings (interface, path, value) fire the trigger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["data_trigger"] = "data_trigger"
    on: DataTriggerOn
    interface_name: StrictStr
    interface_major: Annotated[StrictInt, Field(ge=0)] | None = None
    match_path: StrictStr = ANY_PATH
    value_match_operator: Operator = Operator.ANY
    known_value: Any = None
    device_id: StrictStr | None = None
    group_name: StrictStr | None = None

    @field_validator("interface_name")
    @classmethod
    def _interface(cls, value: str) -> str:
        if value != ANY_INTERFACE and (len(value) > 128 or not _INTERFACE_RE.fullmatch(value)):
            raise ValueError(f"{value!r} must be '*' or an interface name")
        return value

    @field_validator("match_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if value != ANY_PATH and not _PATH_RE.fullmatch(value):
            raise ValueError(f"{value!r} must be '/*' or a path of /token or /%{{param}} parts")
        return value

    @model_validator(mode="after")
    def _rules(self) -> DataTrigger:
        if self.interface_name == ANY_INTERFACE:
            if self.match_path != ANY_PATH:
                raise ValueError("match_path must be '/*' when interface_name is '*'")
        elif self.interface_major is None:
            raise ValueError("interface_major is required unless interface_name is '*'")
        if self.value_match_operator is Operator.ANY:
            if self.known_value is not None:
                raise ValueError("known_value must be absent when value_match_operator is '*'")
        else:
            if self.known_value is None:
                raise ValueError(
                    f"known_value is required with value_match_operator {self.value_match_operator}"
                )
            if self.match_path == ANY_PATH:
                raise ValueError("value_match_operator other than '*' needs a match_path other than '/*'")
            if self.on is DataTriggerOn.PATH_REMOVED:
                raise ValueError("path_removed carries no value: value_match_operator must be '*'")
        _check_scope(self.device_id, self.group_name)
        return self

    @property
    def target(self) -> tuple[str, int | None, str, str | None, str | None]:
        """What a condition is about: interface, major, path and device scope."""
        major = None if self.interface_name == ANY_INTERFACE else self.interface_major
        return (self.interface_name, major, self.match_path, self.device_id, self.group_name)

    def to_json(self) -> dict[str, Any]:
        """Astarte's simple-trigger JSON."""
        out: dict[str, Any] = {"type": self.type, "on": self.on.value, "interface_name": self.interface_name}
        if self.interface_major is not None:
            out["interface_major"] = self.interface_major
        out["match_path"] = self.match_path
        out["value_match_operator"] = self.value_match_operator.value
        if self.known_value is not None:
            out["known_value"] = self.known_value
        if self.device_id is not None:
            out["device_id"] = self.device_id
        if self.group_name is not None:
            out["group_name"] = self.group_name
        return out


class DeviceTrigger(BaseModel):
    """A device_trigger: a device event of one kind for a device, a group or all devices."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["device_trigger"] = "device_trigger"
    on: DeviceTriggerOn
    device_id: StrictStr | None = None
    group_name: StrictStr | None = None

    @model_validator(mode="after")
    def _rules(self) -> DeviceTrigger:
        _check_scope(self.device_id, self.group_name)
        return self

    def to_json(self) -> dict[str, Any]:
        """Astarte's simple-trigger JSON."""
        out: dict[str, Any] = {"type": self.type, "on": self.on.value}
        if self.device_id is not None:
            out["device_id"] = self.device_id
        if self.group_name is not None:
            out["group_name"] = self.group_name
        return out


def _resolve_type(leaf: DataTrigger, interface: Interface, field: str) -> MappingType | None:
    """The mapping type at ``match_path`` (None for an object path); refuses paths outside it."""
    if leaf.match_path == ANY_PATH:
        return None
    trie = EndpointTrie(interface)
    # A %{param} token holds no + or #, so the trie takes it through its placeholder branch.
    match = trie.resolve(leaf.match_path)
    if match is None:
        raise TriggerError(
            f"{field}.match_path: {leaf.match_path!r} matches no mapping of "
            f"{interface.name} v{interface.major}",
            field=f"{field}.match_path",
        )
    return None if interface.is_object else match.mapping.type


def typed_known_value(leaf: DataTrigger, mapping_type: MappingType | None, field: str = "known_value") -> Any:
    """``known_value`` as a canonical value of ``mapping_type`` (an element for array contains)."""
    op = leaf.value_match_operator
    if op is Operator.ANY:
        return None
    here = f"{field}.value_match_operator"
    if mapping_type is None:
        raise TriggerError(f"{here}: {op} needs an individual mapping, not an object path", field=here)
    if op in _ORDERING and mapping_type not in _ORDERED:
        raise TriggerError(f"{here}: {op} does not apply to {mapping_type} values", field=here)
    if op in _CONTAINMENT and not (mapping_type.is_array or mapping_type in _CONTAINERS):
        raise TriggerError(f"{here}: {op} applies to string, binaryblob and array mappings only", field=here)
    expected = mapping_type.element if op in _CONTAINMENT and mapping_type.is_array else mapping_type
    try:
        return json_converter(expected)(leaf.known_value)
    except ValueRefused as exc:
        raise TriggerError(
            f"{field}.known_value: must be a {expected} value: {exc.reason}", field=f"{field}.known_value"
        ) from None


def check_against(leaf: DataTrigger, interface: Interface, field: str) -> Any:
    """Validate one data condition against its interface; return its typed known value."""
    return typed_known_value(leaf, _resolve_type(leaf, interface, field), field)


def _safe(test: Callable[[Any], bool]) -> Predicate:
    def predicate(value: object) -> bool:
        if value is None:
            return False
        try:
            return test(value)
        except TypeError:  # a value of another type than the mapping's never matches
            return False

    return predicate


def value_predicate(op: Operator, known: Any) -> Predicate:
    """The test a canonical value must pass for ``op`` against the typed ``known`` value."""
    tests: dict[Operator, Callable[[Any], bool]] = {
        Operator.EQ: lambda v: type(v) is type(known) and v == known,
        Operator.NE: lambda v: not (type(v) is type(known) and v == known),
        Operator.GT: lambda v: v > known,
        Operator.GE: lambda v: v >= known,
        Operator.LT: lambda v: v < known,
        Operator.LE: lambda v: v <= known,
        Operator.CONTAINS: lambda v: known in v,
        Operator.NOT_CONTAINS: lambda v: known not in v,
    }
    if op is Operator.ANY:
        return lambda value: True
    return _safe(tests[op])
