"""Device status: what the device-events topic says about each device, served in Astarte's shape."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from pipeline.errors import NotFoundError
from pipeline.registry.groups import Groups
from pipeline.registry.metadata import DeviceMetadata
from pipeline.registry.tables import device_status, devices
from pipeline.store.readings import iso_time
from schemas.introspection import parse_introspection

if TYPE_CHECKING:
    from pipeline.registry import Registry


def _iso(micros: int | None) -> str | None:
    return iso_time(micros) if micros is not None else None


class DeviceStatusBook:
    """Applies device events to the status table and answers status queries."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Fold one device event (a decoded DeviceEvent record) into the device's status.

        Returns the events it implies: interface_added, interface_removed and
        interface_minor_updated when an introspection changed the device's interfaces.
        """
        realm, device_id, kind, at = event["realm"], event["device_id"], event["type"], event["timestamp"]
        metadata = event.get("metadata") or {}
        async with self._registry.engine.begin() as conn:
            known = (
                await conn.execute(
                    select(devices.c.device_id).where(
                        devices.c.realm == realm, devices.c.device_id == device_id
                    )
                )
            ).first()
            if known is None:
                return []  # a device deleted since: nothing to keep
            row = (
                await conn.execute(
                    select(device_status).where(
                        device_status.c.realm == realm, device_status.c.device_id == device_id
                    )
                )
            ).first()
            if row is None:
                await conn.execute(device_status.insert().values(realm=realm, device_id=device_id))
                row = (
                    await conn.execute(
                        select(device_status).where(
                            device_status.c.realm == realm, device_status.c.device_id == device_id
                        )
                    )
                ).one()
            values = _changes(row, kind, at, event.get("ip_address"), metadata)
            if values:
                await conn.execute(
                    update(device_status)
                    .where(device_status.c.realm == realm, device_status.c.device_id == device_id)
                    .values(**values)
                )
        if kind != "incoming_introspection" or "introspection" not in values:
            return []
        before = {name: (v[0], v[1]) for name, v in json.loads(row.introspection).items()}
        return [
            {**event, "type": change, "metadata": fields}
            for change, fields in interface_changes(before, json.loads(values["introspection"]))
        ]

    async def introspection(self, realm: str, device_id: str) -> dict[str, tuple[int, int]] | None:
        """The device's declared interfaces (name: major, minor), None if it never declared any;
        NotFoundError for a device the realm does not know. One query: data reads ask it each time."""
        query = (
            select(devices.c.device_id, device_status.c.introspection)
            .select_from(
                devices.outerjoin(
                    device_status,
                    (device_status.c.realm == devices.c.realm)
                    & (device_status.c.device_id == devices.c.device_id),
                )
            )
            .where(devices.c.realm == realm, devices.c.device_id == device_id)
        )
        async with self._registry.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFoundError(f"device {device_id} not found in realm {realm!r}")
        declared = json.loads(row.introspection) if row.introspection else {}
        return {name: (v[0], v[1]) for name, v in declared.items()} or None

    async def status(self, realm: str, device_id: str) -> dict[str, Any]:
        """Astarte's device status document."""
        device = await self._registry.get_device(realm, device_id)
        async with self._registry.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(device_status).where(
                        device_status.c.realm == realm, device_status.c.device_id == device_id
                    )
                )
            ).first()
        introspection = json.loads(row.introspection) if row else {}
        exchanged = json.loads(row.exchanged) if row else {}
        meta = DeviceMetadata(self._registry)
        return {
            "id": device_id,
            "aliases": await meta.aliases(realm, device_id),
            "attributes": await meta.attributes(realm, device_id),
            "groups": await Groups(self._registry).of_device(realm, device_id),
            "introspection": {
                name: {
                    "major": major,
                    "minor": minor,
                    "exchanged_msgs": exchanged.get(name, [0, 0])[0],
                    "exchanged_bytes": exchanged.get(name, [0, 0])[1],
                }
                for name, (major, minor) in introspection.items()
            },
            "previous_interfaces": json.loads(row.previous_interfaces) if row else [],
            "connected": bool(row.connected) if row else False,
            "last_connection": _iso(row.last_connection) if row else None,
            "last_disconnection": _iso(row.last_disconnection) if row else None,
            "last_seen_ip": row.last_seen_ip if row else None,
            "first_registration": _iso(device.first_registration),
            "first_credentials_request": _iso(device.first_credentials_request),
            "credentials_inhibited": device.credentials_inhibited,
            "total_received_msgs": row.total_received_msgs if row else 0,
            "total_received_bytes": row.total_received_bytes if row else 0,
        }

    async def device_ids(self, realm: str, *, after: str | None, limit: int) -> list[str]:
        """A page of the realm's device ids in id order, starting after ``after``."""
        query = select(devices.c.device_id).where(devices.c.realm == realm).order_by(devices.c.device_id)
        if after:
            query = query.where(devices.c.device_id > after)
        async with self._registry.engine.connect() as conn:
            return list((await conn.execute(query.limit(limit))).scalars())

    async def stats(self, realm: str) -> dict[str, int]:
        """``total_devices`` and ``connected_devices`` of a realm."""
        await self._registry.get_realm(realm)
        async with self._registry.engine.connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(devices).where(devices.c.realm == realm))
            ).scalar_one()
            connected = (
                await conn.execute(
                    select(func.count())
                    .select_from(device_status)
                    .where(device_status.c.realm == realm, device_status.c.connected.is_(True))
                )
            ).scalar_one()
        return {"total_devices": int(total), "connected_devices": int(connected)}


def _changes(row: Any, kind: str, at: int, ip: str | None, metadata: dict[str, str]) -> dict[str, Any]:
    """The column updates one event brings (pure)."""
    if kind == "device_connected":
        return {"connected": True, "last_connection": at, "last_seen_ip": ip or row.last_seen_ip}
    if kind == "device_disconnected":
        values: dict[str, Any] = {"connected": False, "last_disconnection": at}
        counts: dict[str, list[int]] = json.loads(metadata.get("exchanged", "{}"))
        if counts:
            exchanged = json.loads(row.exchanged)
            for name, (msgs, size) in counts.items():
                before = exchanged.get(name, [0, 0])
                exchanged[name] = [before[0] + msgs, before[1] + size]
            values["exchanged"] = json.dumps(exchanged)
            values["total_received_msgs"] = row.total_received_msgs + sum(c[0] for c in counts.values())
            values["total_received_bytes"] = row.total_received_bytes + sum(c[1] for c in counts.values())
        return values
    if kind == "incoming_introspection":
        parsed = parse_introspection(metadata.get("introspection", ""))
        if isinstance(parsed, str):
            return {}
        current = {name: tuple(v) for name, v in json.loads(row.introspection).items()}
        dropped = [
            {"name": name, "major": major, "minor": minor}
            for name, (major, minor) in current.items()
            if parsed.get(name) != (major, minor)
        ]
        previous = json.loads(row.previous_interfaces) + dropped
        return {"introspection": json.dumps(parsed), "previous_interfaces": json.dumps(previous)}
    return {}


def interface_changes(
    before: dict[str, tuple[int, int]], after: dict[str, list[int]]
) -> list[tuple[str, dict[str, str]]]:
    """The interface events between two introspections, with each interface and version (pure)."""
    changes: list[tuple[str, dict[str, str]]] = []
    for name, (major, minor) in after.items():
        previous = before.get(name)
        fields = {"interface": name, "major_version": str(major), "minor_version": str(minor)}
        if previous is None or previous[0] != major:
            changes.append(("interface_added", fields))
        elif previous[1] != minor:
            changes.append(("interface_minor_updated", fields))
    for name, (major, minor) in before.items():
        if name not in after or after[name][0] != major:
            fields = {"interface": name, "major_version": str(major), "minor_version": str(minor)}
            changes.append(("interface_removed", fields))
    return changes
