"""``TriggerIndex``: the installed triggers, indexed so a reading costs only what can match it.

Data triggers are keyed by (realm, interface, major, phase); inside a key, by
concrete ``match_path`` (a dict), ``/*`` (one list) or parametric path (a token
trie), and inside a path bucket by device, group or all devices. A reading
looks up its own key and the realm's ``*`` key, walks its path once and tests
only the triggers it reaches. Device triggers are keyed by (realm, event kind).

A reading is evaluated in two phases (``ReadingPhase``): ``incoming`` when it
arrives (incoming_data, value_change) and ``stored`` once it is persisted
(value_stored, value_change_applied, path_created, path_removed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from schemas.trigger_conditions import (
    ANY_DEVICE,
    ANY_INTERFACE,
    ANY_PATH,
    DataTrigger,
    DataTriggerOn,
    DeviceTrigger,
    DeviceTriggerOn,
    Predicate,
    check_against,
    value_predicate,
)
from schemas.trigger_errors import TriggerError
from schemas.triggers import Condition, Trigger

if TYPE_CHECKING:
    from schemas.interface import Interface

__all__ = ["ReadingPhase", "TriggerIndex", "phase_of"]


class ReadingPhase(StrEnum):
    """When a reading is evaluated: on arrival or once persisted."""

    INCOMING = "incoming"
    STORED = "stored"


_PHASES = {
    DataTriggerOn.INCOMING_DATA: ReadingPhase.INCOMING,
    DataTriggerOn.VALUE_CHANGE: ReadingPhase.INCOMING,
    DataTriggerOn.VALUE_STORED: ReadingPhase.STORED,
    DataTriggerOn.VALUE_CHANGE_APPLIED: ReadingPhase.STORED,
    DataTriggerOn.PATH_CREATED: ReadingPhase.STORED,
    DataTriggerOn.PATH_REMOVED: ReadingPhase.STORED,
}
_NEEDS_PREVIOUS = frozenset(
    {
        DataTriggerOn.VALUE_CHANGE,
        DataTriggerOn.VALUE_CHANGE_APPLIED,
        DataTriggerOn.PATH_CREATED,
        DataTriggerOn.PATH_REMOVED,
    }
)


def phase_of(on: DataTriggerOn) -> ReadingPhase:
    """The phase in which a data trigger's ``on`` kind is evaluated."""
    return _PHASES[on]


def _changed(value: object, previous: object) -> bool:
    return type(value) is not type(previous) or value != previous


_ON_TESTS: dict[DataTriggerOn, Callable[[object, object], bool]] = {
    DataTriggerOn.INCOMING_DATA: lambda value, previous: True,
    DataTriggerOn.VALUE_STORED: lambda value, previous: True,
    DataTriggerOn.VALUE_CHANGE: _changed,
    DataTriggerOn.VALUE_CHANGE_APPLIED: _changed,
    DataTriggerOn.PATH_CREATED: lambda value, previous: previous is None and value is not None,
    DataTriggerOn.PATH_REMOVED: lambda value, previous: value is None,
}

# (device_id, groups, interface, major, path, value, previous_value)
_Reading = tuple[str, frozenset[str], str, int, str, object, object]
_Test = Callable[[_Reading], bool]


def _path_test(match_path: str) -> Callable[[str], bool]:
    if match_path == ANY_PATH:
        return lambda path: True
    if "%{" not in match_path:
        return lambda path: path == match_path
    pattern = [None if t.startswith("%{") else t for t in match_path.split("/")[1:]]

    def test(path: str) -> bool:
        parts = path.split("/")[1:]
        return len(parts) == len(pattern) and all(
            p == t if p is not None else bool(t) for p, t in zip(pattern, parts, strict=True)
        )

    return test


def _leaf_test(leaf: DataTrigger, predicate: Predicate) -> _Test:
    any_interface = leaf.interface_name == ANY_INTERFACE
    name, major, on_test = leaf.interface_name, leaf.interface_major, _ON_TESTS[leaf.on]
    path_ok = _path_test(leaf.match_path)
    device = None if leaf.device_id in (None, ANY_DEVICE) else leaf.device_id
    group = leaf.group_name

    def test(r: _Reading) -> bool:
        return (
            (any_interface or (r[2] == name and r[3] == major))
            and (device is None or r[0] == device)
            and (group is None or group in r[1])
            and path_ok(r[4])
            and on_test(r[5], r[6])
            and predicate(r[5])
        )

    return test


def _tree_test(node: Condition, predicates: dict[int, Predicate]) -> _Test:
    if isinstance(node, DataTrigger):
        return _leaf_test(node, predicates[id(node)])
    tests = [_tree_test(item, predicates) for item in node.items]
    if node.op == "and":
        return lambda r: all(t(r) for t in tests)
    return lambda r: any(t(r) for t in tests)


def _anchors(node: Condition) -> list[DataTrigger]:
    """Leaves to index: every leaf of an ``or``, one leaf of an ``and`` (all share its target)."""
    if isinstance(node, DataTrigger):
        return [node]
    if node.op == "and":
        return _anchors(node.items[0])
    return [leaf for item in node.items for leaf in _anchors(item)]


class _Entry:
    """One installed trigger as the index holds it (identity-compared)."""

    __slots__ = ("locations", "needs_previous", "seq", "test", "trigger")

    def __init__(self, seq: int, trigger: Trigger, test: _Test | None) -> None:
        self.seq, self.trigger, self.test = seq, trigger, test
        self.needs_previous = any(leaf.on in _NEEDS_PREVIOUS for leaf in trigger.data_leaves())
        self.locations: list[list[_Entry]] = []


class _Bucket:
    """Entries by device scope: all devices, one device, one group."""

    __slots__ = ("all", "by_device", "by_group")

    def __init__(self) -> None:
        self.all: list[_Entry] = []
        self.by_device: dict[str, list[_Entry]] = {}
        self.by_group: dict[str, list[_Entry]] = {}

    def slot(self, device_id: str | None, group_name: str | None) -> list[_Entry]:
        if group_name is not None:
            return self.by_group.setdefault(group_name, [])
        if device_id is not None and device_id != ANY_DEVICE:
            return self.by_device.setdefault(device_id, [])
        return self.all

    def collect(self, device_id: str, groups: frozenset[str], out: list[_Entry]) -> None:
        out.extend(self.all)
        if self.by_device and (hit := self.by_device.get(device_id)):
            out.extend(hit)
        if self.by_group:
            for group in groups:
                if hit := self.by_group.get(group):
                    out.extend(hit)


class _Node:
    __slots__ = ("bucket", "literal", "wild")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.wild: _Node | None = None
        self.bucket: _Bucket | None = None


class _PathIndex:
    """Buckets of one (realm, interface, major, phase) by match_path."""

    __slots__ = ("any", "exact", "param")

    def __init__(self) -> None:
        self.exact: dict[str, _Bucket] = {}
        self.any = _Bucket()
        self.param: _Node | None = None

    def bucket(self, match_path: str) -> _Bucket:
        if match_path == ANY_PATH:
            return self.any
        if "%{" not in match_path:
            return self.exact.setdefault(match_path, _Bucket())
        node = self.param = self.param or _Node()
        for token in match_path.split("/")[1:]:
            if token.startswith("%{"):
                node.wild = node.wild or _Node()
                node = node.wild
            else:
                node = node.literal.setdefault(token, _Node())
        node.bucket = node.bucket or _Bucket()
        return node.bucket

    def buckets(self, path: str) -> list[_Bucket]:
        out = [self.any]
        if (exact := self.exact.get(path)) is not None:
            out.append(exact)
        if self.param is not None:
            _walk(self.param, path.split("/")[1:], 0, out)
        return out


def _walk(node: _Node, parts: list[str], i: int, out: list[_Bucket]) -> None:
    if i == len(parts):
        if node.bucket is not None:
            out.append(node.bucket)
        return
    if (child := node.literal.get(parts[i])) is not None:
        _walk(child, parts, i + 1, out)
    if node.wild is not None and parts[i]:
        _walk(node.wild, parts, i + 1, out)


class TriggerIndex:
    """Installed triggers of every realm, evaluated per reading and per device event."""

    def __init__(self) -> None:
        self._seq = 0
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._data: dict[tuple[str, str, int | None, ReadingPhase], _PathIndex] = {}
        self._device: dict[tuple[str, DeviceTriggerOn], _Bucket] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, realm: str, name: str) -> Trigger | None:
        """The installed trigger ``name`` of ``realm``, or None."""
        entry = self._entries.get((realm, name))
        return None if entry is None else entry.trigger

    def triggers(self, realm: str) -> list[Trigger]:
        """The realm's triggers in installation order."""
        return [e.trigger for (r, _), e in self._entries.items() if r == realm]

    def add(self, realm: str, trigger: Trigger, interfaces: Iterable[Interface] = ()) -> None:
        """Install ``trigger``; ``interfaces`` type its known values and check its paths.

        A condition with an operator other than ``*`` needs its interface (the
        type of ``known_value`` is the mapping's). Raises ``TriggerError`` on a
        name already installed in the realm or a condition its interface refuses.
        """
        if (realm, trigger.name) in self._entries:
            raise TriggerError(
                f"name: trigger {trigger.name!r} already exists in realm {realm}", field="name"
            )
        self._seq += 1
        simple = trigger.simple
        if isinstance(simple, DeviceTrigger):
            entry = _Entry(self._seq, trigger, None)
            bucket = self._device.setdefault((realm, simple.on), _Bucket())
            self._place(entry, bucket.slot(simple.device_id, simple.group_name))
            self._entries[(realm, trigger.name)] = entry
            return
        root: Condition | None = simple if simple is not None else trigger.condition
        assert root is not None  # parse_trigger gives every trigger a simple trigger or a condition
        by_version: dict[tuple[str, int | None], Interface] = {(i.name, i.major): i for i in interfaces}
        predicates = {
            id(leaf): self._predicate(leaf, field, by_version) for field, leaf in trigger.located_leaves()
        }
        entry = _Entry(self._seq, trigger, _tree_test(root, predicates))
        for leaf in _anchors(root):
            major = None if leaf.interface_name == ANY_INTERFACE else leaf.interface_major
            paths = self._data.setdefault((realm, leaf.interface_name, major, _PHASES[leaf.on]), _PathIndex())
            self._place(entry, paths.bucket(leaf.match_path).slot(leaf.device_id, leaf.group_name))
        self._entries[(realm, trigger.name)] = entry

    @staticmethod
    def _predicate(
        leaf: DataTrigger, field: str, by_version: dict[tuple[str, int | None], Interface]
    ) -> Predicate:
        interface = by_version.get((leaf.interface_name, leaf.interface_major))
        if interface is None:
            if leaf.value_match_operator.value != "*":
                raise TriggerError(
                    f"{field}.known_value: interface {leaf.interface_name} v{leaf.interface_major} "
                    "is needed to type it",
                    field=f"{field}.known_value",
                )
            return value_predicate(leaf.value_match_operator, None)
        known: Any = check_against(leaf, interface, field)
        return value_predicate(leaf.value_match_operator, known)

    @staticmethod
    def _place(entry: _Entry, slot: list[_Entry]) -> None:
        if not any(e is entry for e in slot):
            slot.append(entry)
            entry.locations.append(slot)

    def remove(self, realm: str, name: str) -> bool:
        """Uninstall a trigger; False when it was not installed."""
        entry = self._entries.pop((realm, name), None)
        if entry is None:
            return False
        for slot in entry.locations:
            slot[:] = [e for e in slot if e is not entry]
        return True

    def _candidates(
        self,
        realm: str,
        *,
        device_id: str,
        groups: frozenset[str],
        interface: str,
        major: int,
        path: str,
        phase: ReadingPhase,
    ) -> list[_Entry]:
        found: list[_Entry] = []
        for key in ((realm, interface, major, phase), (realm, ANY_INTERFACE, None, phase)):
            paths = self._data.get(key)
            if paths is not None:
                for bucket in paths.buckets(path):
                    bucket.collect(device_id, groups, found)
        return found

    def matches_for_reading(  # noqa: PLR0917 - the reading's fields, in the order callers hold them
        self,
        realm: str,
        device_id: str,
        groups: Iterable[str],
        interface: str,
        major: int,
        path: str,
        value: object,
        previous_value: object,
        event_kind: ReadingPhase | str,
    ) -> list[Trigger]:
        """Triggers a reading fires, in installation order.

        ``value`` is the canonical value (None for an unset), ``previous_value``
        the path's last value (None when absent), ``event_kind`` the phase.
        """
        group_set = groups if isinstance(groups, frozenset) else frozenset(groups)
        phase = ReadingPhase(event_kind)
        reading: _Reading = (device_id, group_set, interface, major, path, value, previous_value)
        found = self._candidates(
            realm,
            device_id=device_id,
            groups=group_set,
            interface=interface,
            major=major,
            path=path,
            phase=phase,
        )
        if not found:
            return []
        hits: dict[int, _Entry] = {}
        for entry in found:
            if entry.seq not in hits and entry.test is not None and entry.test(reading):
                hits[entry.seq] = entry
        return [hits[seq].trigger for seq in sorted(hits)]

    def needs_previous_value(
        self, realm: str, device_id: str, groups: Iterable[str], *, interface: str, major: int, path: str
    ) -> bool:
        """True when some trigger on this path compares with the last value (keep it only then)."""
        group_set = frozenset(groups)
        return any(
            entry.needs_previous
            for phase in ReadingPhase
            for entry in self._candidates(
                realm,
                device_id=device_id,
                groups=group_set,
                interface=interface,
                major=major,
                path=path,
                phase=phase,
            )
        )

    def matches_for_device_event(
        self, realm: str, device_id: str, groups: Iterable[str], kind: DeviceTriggerOn | str
    ) -> list[Trigger]:
        """Device triggers of ``kind`` for this device (by id, group or all), in installation order."""
        bucket = self._device.get((realm, DeviceTriggerOn(kind)))
        if bucket is None:
            return []
        found: list[_Entry] = []
        bucket.collect(device_id, frozenset(groups), found)
        return [e.trigger for e in sorted({e.seq: e for e in found}.values(), key=lambda e: e.seq)]
