"""The registry's relational schema (SQLAlchemy Core), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

realms = Table(
    "realms",
    metadata,
    Column("name", String(48), primary_key=True),
    Column("jwt_public_key_pem", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("device_registration_limit", Integer, nullable=True),
    Column("datastream_maximum_storage_retention", Integer, nullable=True),
    # The delivery policy of triggers that name none (None: Astarte's, one attempt, failures discarded).
    Column("default_policy", String(128), nullable=True),
)

interfaces = Table(
    "interfaces",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("major", Integer, primary_key=True),
    Column("minor", Integer, nullable=False),
    Column("definition", Text, nullable=False),
    Column("installed_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["realm"], ["realms.name"], ondelete="CASCADE"),
)

devices = Table(
    "devices",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("device_id", String(22), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("first_registration", BigInteger, nullable=False),
    Column("first_credentials_request", BigInteger, nullable=True),
    Column("credentials_inhibited", Boolean, nullable=False, default=False),
    # The device seen as a Magistrala client (``pipeline.registry.clients``): its tags (a JSON list),
    # which of its AppEngine groups is its parent, and when the client last changed.
    Column("tags", Text, nullable=True),
    Column("parent_group", String(128), nullable=True),
    Column("updated_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["realm"], ["realms.name"], ondelete="CASCADE"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("global_role", String(16), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    # The user a key acts for (None: a bootstrap key, e.g. `headwater up`'s admin key) and the realm
    # it is limited to (None: every realm its user belongs to).
    Column("username", String(64), nullable=True),
    Column("realm", String(48), nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
)

# What a device is doing, kept from the device-events topic (times in microseconds).
device_status = Table(
    "device_status",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("device_id", String(22), primary_key=True),
    Column("connected", Boolean, nullable=False, default=False),
    Column("last_connection", BigInteger, nullable=True),
    Column("last_disconnection", BigInteger, nullable=True),
    Column("last_seen_ip", String(64), nullable=True),
    Column("introspection", Text, nullable=False, default="{}"),
    Column("previous_interfaces", Text, nullable=False, default="[]"),
    Column("exchanged", Text, nullable=False, default="{}"),
    Column("total_received_msgs", BigInteger, nullable=False, default=0),
    Column("total_received_bytes", BigInteger, nullable=False, default=0),
    ForeignKeyConstraint(["realm", "device_id"], ["devices.realm", "devices.device_id"], ondelete="CASCADE"),
)

# The server-owned properties currently set on each device, as the payload the device receives:
# brokers resend them when a device starts a clean session.
server_properties = Table(
    "server_properties",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("device_id", String(22), primary_key=True),
    Column("interface", String(128), primary_key=True),
    Column("path", String(512), primary_key=True),
    Column("payload", LargeBinary, nullable=False),
    Column("set_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["realm", "device_id"], ["devices.realm", "devices.device_id"], ondelete="CASCADE"),
)

# Astarte's device aliases (tag -> alias, an alias unique in its realm) and attributes.
device_aliases = Table(
    "device_aliases",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("device_id", String(22), primary_key=True),
    Column("tag", String(128), primary_key=True),
    Column("alias", String(256), nullable=False),
    UniqueConstraint("realm", "alias", name="device_alias_unique"),
    ForeignKeyConstraint(["realm", "device_id"], ["devices.realm", "devices.device_id"], ondelete="CASCADE"),
)

device_attributes = Table(
    "device_attributes",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("device_id", String(22), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    ForeignKeyConstraint(["realm", "device_id"], ["devices.realm", "devices.device_id"], ondelete="CASCADE"),
)

# People (and robots) who log in; passwords are argon2 hashes.
users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("global_role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# A user's role in a realm: owner, admin, editor or viewer.
memberships = Table(
    "memberships",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    ForeignKeyConstraint(["realm"], ["realms.name"], ondelete="CASCADE"),
    ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
)

# Installed triggers and delivery policies of each realm, as their Astarte JSON.
triggers = Table(
    "triggers",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("policy", String(128), nullable=True),
    Column("installed_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["realm"], ["realms.name"], ondelete="CASCADE"),
)

delivery_policies = Table(
    "delivery_policies",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("installed_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["realm"], ["realms.name"], ondelete="CASCADE"),
)

# Trigger events that could not be delivered (also on the trigger-dlq topic), kept for listing and
# replay: the encoded TriggerEvent record with the reason.
trigger_dead_letters = Table(
    "trigger_dead_letters",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("event_id", String(256), primary_key=True),
    Column("trigger_name", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("record", LargeBinary, nullable=False),
    Column("dead_at", BigInteger, nullable=False),
)

# AppEngine groups: a group exists while it has devices.
group_members = Table(
    "group_members",
    metadata,
    Column("realm", String(48), primary_key=True),
    Column("group_name", String(128), primary_key=True),
    Column("device_id", String(22), primary_key=True),
    ForeignKeyConstraint(["realm", "device_id"], ["devices.realm", "devices.device_id"], ondelete="CASCADE"),
)

# Roles on a device seen as a Magistrala client: a named set of actions granted to users.
client_roles = Table(
    "client_roles",
    metadata,
    Column("role_id", String(36), primary_key=True),
    Column("realm", String(48), nullable=False),
    Column("device_id", String(22), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_by", String(64), nullable=True),
    Column("updated_at", BigInteger, nullable=True),
    UniqueConstraint("realm", "device_id", "name", name="client_role_name_unique"),
    ForeignKeyConstraint(["realm", "device_id"], ["devices.realm", "devices.device_id"], ondelete="CASCADE"),
)

client_role_actions = Table(
    "client_role_actions",
    metadata,
    Column("role_id", String(36), primary_key=True),
    Column("action", String(64), primary_key=True),
    ForeignKeyConstraint(["role_id"], ["client_roles.role_id"], ondelete="CASCADE"),
)

client_role_members = Table(
    "client_role_members",
    metadata,
    Column("role_id", String(36), primary_key=True),
    Column("member", String(64), primary_key=True),
    ForeignKeyConstraint(["role_id"], ["client_roles.role_id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["member"], ["users.username"], ondelete="CASCADE"),
)
