"""The registry: realms, interfaces, devices and API keys, on SQLite or PostgreSQL."""

from pipeline.registry.registry import ApiKeyRecord, DeviceRecord, RealmRecord, Registry

__all__ = ["ApiKeyRecord", "DeviceRecord", "RealmRecord", "Registry"]
