"""The registry: realms, interfaces, devices, users and API keys, on SQLite or PostgreSQL."""

from pipeline.registry.accounts import Accounts, ApiKeyRecord, Principal
from pipeline.registry.registry import DeviceRecord, RealmRecord, Registry

__all__ = ["Accounts", "ApiKeyRecord", "DeviceRecord", "Principal", "RealmRecord", "Registry"]
