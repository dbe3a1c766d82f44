"""Trigger model and ``parse_trigger`` (astarte.md §6) with Headwater's and/or conditions.

Astarte's form is ``{"name", "action", "simple_triggers": [exactly one], "policy"?}``.
Beyond Astarte, ``{"name", "action", "condition": <node>, "policy"?}`` combines
data-trigger conditions, where a node is a data_trigger object (the same JSON as
in ``simple_triggers``) or ``{"and": [node, ...]}`` / ``{"or": [node, ...]}``.
Every leaf shares one ``on`` (the event type of a delivery), and the leaves under
an ``and`` share interface, major, match_path and device scope, because a
condition holds or not for one reading::

    {"name": "warm", "action": {...}, "condition": {"or": [
        {"and": [<temp > 30>, <temp < 50>]}, <humidity > 90>]}}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator

from schemas.trigger_action import HttpAction
from schemas.trigger_conditions import (
    DataTrigger,
    DataTriggerOn,
    DeviceTrigger,
    DeviceTriggerOn,
    Operator,
    check_against,
)
from schemas.trigger_errors import TriggerError

if TYPE_CHECKING:
    from schemas.interface import Interface

__all__ = [
    "Condition",
    "ConditionGroup",
    "DataTrigger",
    "DataTriggerOn",
    "DeviceTrigger",
    "DeviceTriggerOn",
    "HttpAction",
    "Operator",
    "Trigger",
    "TriggerError",
    "parse_trigger",
    "validate_against",
]

MAX_CONDITION_LEAVES = 64
MAX_CONDITION_DEPTH = 4


class ConditionGroup(BaseModel):
    """``{"and": [...]}`` or ``{"or": [...]}`` over data-trigger leaves and groups."""

    model_config = ConfigDict(frozen=True)

    op: str
    items: tuple[Condition, ...]

    def leaves(self) -> list[DataTrigger]:
        """Every data-trigger leaf, in document order."""
        out: list[DataTrigger] = []
        for item in self.items:
            out.extend(item.leaves() if isinstance(item, ConditionGroup) else [item])
        return out

    def to_json(self) -> dict[str, Any]:
        """The node's JSON, ``{"and"|"or": [...]}``."""
        return {self.op: [item.to_json() for item in self.items]}


Condition = DataTrigger | ConditionGroup
ConditionGroup.model_rebuild()


class Trigger(BaseModel):
    """An installed trigger: an HTTP action fired by one simple trigger or a condition."""

    model_config = ConfigDict(frozen=True)

    name: StrictStr
    action: HttpAction
    simple: DataTrigger | DeviceTrigger | None = None
    condition: ConditionGroup | None = None
    policy: StrictStr | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 1 <= len(value) <= 128 or any(c in value for c in "/?#%") or not value.isprintable():
            raise ValueError(f"{value!r} must be 1..128 printable characters without / ? # %")
        return value

    @property
    def is_device_trigger(self) -> bool:
        """True when the trigger fires on device events rather than readings."""
        return isinstance(self.simple, DeviceTrigger)

    @property
    def event_type(self) -> str:
        """The ``type`` of the events this trigger delivers (its ``on``)."""
        return self.data_leaves()[0].on.value if self.simple is None else self.simple.on.value

    def data_leaves(self) -> list[DataTrigger]:
        """The data-trigger conditions (one for a simple data trigger, none for a device trigger)."""
        if self.condition is not None:
            return self.condition.leaves()
        return [self.simple] if isinstance(self.simple, DataTrigger) else []

    def located_leaves(self) -> list[tuple[str, DataTrigger]]:
        """The data conditions with the name error messages give them."""
        if self.condition is not None:
            return [(f"condition leaf {i}", leaf) for i, leaf in enumerate(self.condition.leaves())]
        return [("simple_triggers[0]", self.simple)] if isinstance(self.simple, DataTrigger) else []

    def to_json(self) -> dict[str, Any]:
        """Astarte JSON (or the condition form); ``parse_trigger`` inverts it."""
        out: dict[str, Any] = {"name": self.name, "action": self.action.to_json()}
        if self.simple is not None:
            out["simple_triggers"] = [self.simple.to_json()]
        elif self.condition is not None:
            out["condition"] = self.condition.to_json()
        if self.policy is not None:
            out["policy"] = self.policy
        return out


def _pydantic_error(exc: ValidationError, prefix: str) -> TriggerError:
    error = exc.errors(include_url=False)[0]
    loc = [p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    field = prefix
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    field = field or "trigger"
    msg = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if error["type"] == "missing":
        msg = "is required"
    elif error["type"] == "extra_forbidden":
        msg = "is not a known field"
    return TriggerError(f"{field}: {msg}", field=field)


def _leaf(data: object, field: str, kinds: tuple[str, ...]) -> DataTrigger | DeviceTrigger:
    if not isinstance(data, dict):
        raise TriggerError(f"{field}: must be an object", field=field)
    kind = data.get("type")
    if kind not in kinds:
        expected = " or ".join(repr(k) for k in kinds)
        raise TriggerError(f"{field}.type: must be {expected}", field=f"{field}.type")
    model = DataTrigger if kind == "data_trigger" else DeviceTrigger
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(exc, field) from None


def _node(data: object, field: str, depth: int) -> Condition:
    if isinstance(data, dict) and len(data) == 1 and next(iter(data)) in ("and", "or"):
        op, items = next(iter(data.items()))
        here = f"{field}.{op}"
        if depth >= MAX_CONDITION_DEPTH:
            raise TriggerError(f"{here}: conditions nest at most {MAX_CONDITION_DEPTH} deep", field=here)
        if not isinstance(items, list) or not items:
            raise TriggerError(f"{here}: must be a non-empty list of conditions", field=here)
        nodes = tuple(_node(item, f"{here}[{i}]", depth + 1) for i, item in enumerate(items))
        group = ConditionGroup(op=op, items=nodes)
        if op == "and":
            _same_target(group, here)
        return group
    if not isinstance(data, dict) or "type" not in data:
        raise TriggerError(
            f'{field}: must be {{"and": [...]}}, {{"or": [...]}} or a data_trigger object', field=field
        )
    leaf = _leaf(data, field, ("data_trigger",))
    assert isinstance(leaf, DataTrigger)
    return leaf


def _same_target(group: ConditionGroup, field: str) -> None:
    targets = {leaf.target for leaf in group.leaves()}
    if len(targets) > 1:
        raise TriggerError(
            f"{field}: every condition under 'and' must name the same interface_name, interface_major, "
            "match_path, device_id and group_name (a condition holds for one reading)",
            field=field,
        )


def _condition(data: object) -> ConditionGroup:
    node = _node(data, "condition", 0)
    group = node if isinstance(node, ConditionGroup) else ConditionGroup(op="and", items=(node,))
    leaves = group.leaves()
    if len(leaves) > MAX_CONDITION_LEAVES:
        raise TriggerError(
            f"condition: at most {MAX_CONDITION_LEAVES} data-trigger conditions, got {len(leaves)}",
            field="condition",
        )
    if len({leaf.on for leaf in leaves}) > 1:
        raise TriggerError(
            "condition: every condition must have the same 'on' (it is the type of the delivered event)",
            field="condition",
        )
    return group


_TOP_KEYS = frozenset({"name", "action", "simple_triggers", "condition", "policy"})


def parse_trigger(data: object) -> Trigger:
    """Validate trigger JSON (a dict, str or bytes) into a ``Trigger`` or raise ``TriggerError``."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TriggerError(f"trigger: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise TriggerError("trigger: must be a JSON object")
    unknown = sorted(set(data).difference(_TOP_KEYS))
    if unknown:
        raise TriggerError(f"{unknown[0]}: is not a known field", field=unknown[0])
    for key in ("name", "action"):
        if key not in data:
            raise TriggerError(f"{key}: is required", field=key)
    action = data["action"]
    if not isinstance(action, dict):
        raise TriggerError("action: must be an object", field="action")
    if "http_url" not in action and "http_post_url" not in action:
        raise TriggerError("action.http_url: is required (only HTTP actions exist)", field="action.http_url")
    simple: DataTrigger | DeviceTrigger | None = None
    condition: ConditionGroup | None = None
    if ("simple_triggers" in data) == ("condition" in data):
        raise TriggerError(
            "simple_triggers: give exactly one of simple_triggers or condition", field="simple_triggers"
        )
    if "simple_triggers" in data:
        triggers = data["simple_triggers"]
        if not isinstance(triggers, list) or len(triggers) != 1:
            raise TriggerError(
                "simple_triggers: must be a list of exactly one simple trigger", field="simple_triggers"
            )
        simple = _leaf(triggers[0], "simple_triggers[0]", ("data_trigger", "device_trigger"))
    else:
        condition = _condition(data["condition"])
    try:
        return Trigger.model_validate(
            {
                "name": data["name"],
                "action": action,
                "simple": simple,
                "condition": condition,
                "policy": data.get("policy"),
            }
        )
    except ValidationError as exc:
        raise _pydantic_error(exc, "") from None


def validate_against(trigger: Trigger, interface: Interface) -> None:
    """Check the trigger's data conditions that name ``interface`` (and its major) against it.

    match_path must resolve to a mapping (a parametric path through the matching
    placeholders), the operator must suit the mapping type and ``known_value``
    must be a value of it. Raises ``TriggerError`` naming the field.
    """
    for field, leaf in trigger.located_leaves():
        if leaf.interface_name == interface.name and leaf.interface_major == interface.major:
            check_against(leaf, interface, field)
