"""Who may call which route: the written permission matrix, enforced by ``pipeline.api.auth``.

Roles (AstroPulse's meaning). Global: ``admin`` (everything, in every realm: creates
realms and users) and ``developer`` (works in the realms it is a member of, manages
its own API keys). Per realm, highest first:

| realm role | may |
| --- | --- |
| owner  | everything in the realm, incl. its settings (PATCH realm, PUT config/auth) and owners |
| admin  | all resources, API keys and members (not owners, not settings) |
| editor | read and edit resources: interfaces, triggers, policies, devices, data |
| viewer | read only |

Each route needs one ``Access`` level; ``MATRIX`` names it route by route, and
``RULES`` cover routes of an API set added later (GET is ``viewer``, writes are
``editor``). A route neither names is refused to everyone but global admins.
A key is limited to its realm when it was issued for one. An Astarte JWT is judged
by its own claims instead (``pipeline.api.tokens``).
"""

from __future__ import annotations

from enum import StrEnum

GLOBAL_ROLES = ("admin", "developer")
REALM_ROLES = ("owner", "admin", "editor", "viewer")


class Access(StrEnum):
    """What a caller needs for a route."""

    PUBLIC = "public"  # nothing
    DEVICE = "device"  # the device's own credentials secret, checked by the route
    AUTHENTICATED = "authenticated"  # any valid API key (the route may narrow it to the caller's own)
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    OWNER = "owner"
    GLOBAL_ADMIN = "global_admin"


_RANK = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
_AE = "/appengine/v1/{realm}"
_RM = "/realmmanagement/v1/{realm}"
_PA = "/pairing/v1/{realm}"
_HK = "/housekeeping/v1"
_AU = "/auth/v1"
_DATA = _AE + "/devices/{device_id}/interfaces/{interface}/{path}"
_CRED = _PA + "/devices/{hw_id}/protocols/astarte_mqtt_v1/credentials"
_CL = "/{domain_id}/clients"
_ROLE = _CL + "/{client_id}/roles/{role_id}"

MATRIX: dict[tuple[str, str], Access] = {
    ("GET", "/health"): Access.PUBLIC,
    ("GET", "/metrics"): Access.PUBLIC,
    ("POST", _AU + "/login"): Access.PUBLIC,
    ("GET", _AU + "/whoami"): Access.AUTHENTICATED,
    ("POST", _AU + "/users"): Access.GLOBAL_ADMIN,
    ("GET", _AU + "/users"): Access.GLOBAL_ADMIN,
    ("GET", _AU + "/realms/{realm}/members"): Access.ADMIN,
    ("PUT", _AU + "/realms/{realm}/members/{username}"): Access.ADMIN,
    ("DELETE", _AU + "/realms/{realm}/members/{username}"): Access.ADMIN,
    ("POST", _AU + "/apikeys"): Access.AUTHENTICATED,
    ("GET", _AU + "/apikeys"): Access.AUTHENTICATED,
    ("DELETE", _AU + "/apikeys/{key_id}"): Access.AUTHENTICATED,
    ("GET", _HK + "/realms"): Access.AUTHENTICATED,
    ("POST", _HK + "/realms"): Access.GLOBAL_ADMIN,
    ("GET", _HK + "/realms/{name}"): Access.VIEWER,
    ("PATCH", _HK + "/realms/{name}"): Access.OWNER,
    ("DELETE", _HK + "/realms/{name}"): Access.GLOBAL_ADMIN,
    ("GET", _RM + "/config/auth"): Access.VIEWER,
    ("PUT", _RM + "/config/auth"): Access.OWNER,
    ("GET", _RM + "/interfaces"): Access.VIEWER,
    ("POST", _RM + "/interfaces"): Access.EDITOR,
    ("GET", _RM + "/interfaces/{name}"): Access.VIEWER,
    ("GET", _RM + "/interfaces/{name}/{major}"): Access.VIEWER,
    ("PUT", _RM + "/interfaces/{name}/{major}"): Access.EDITOR,
    ("DELETE", _RM + "/interfaces/{name}/{major}"): Access.EDITOR,
    ("POST", _PA + "/agent/devices"): Access.EDITOR,
    ("DELETE", _PA + "/agent/devices/{device_id}"): Access.EDITOR,
    ("GET", _PA + "/devices/{hw_id}"): Access.DEVICE,
    ("POST", _CRED): Access.DEVICE,
    ("POST", _CRED + "/verify"): Access.DEVICE,
    ("GET", _AE + "/devices"): Access.VIEWER,
    ("GET", _AE + "/devices/{device_id}"): Access.VIEWER,
    ("GET", _AE + "/stats/devices"): Access.VIEWER,
    ("GET", _AE + "/devices/{device_id}/interfaces/{interface}"): Access.VIEWER,
    ("GET", _DATA): Access.VIEWER,
    ("POST", _DATA): Access.EDITOR,
    ("PUT", _DATA): Access.EDITOR,
    ("DELETE", _DATA): Access.EDITOR,
    # SQL over the realm's own rows is a read, whichever verb carries the query.
    ("GET", _AE + "/sql"): Access.VIEWER,
    ("POST", _AE + "/sql"): Access.VIEWER,
    # The Magistrala clients API: reads and edits follow its rule; roles are the realm admins'.
    ("POST", _CL + "/{client_id}/enable"): Access.EDITOR,
    ("POST", _CL + "/{client_id}/disable"): Access.EDITOR,
    ("POST", _CL + "/{client_id}/roles"): Access.ADMIN,
    ("GET", _CL + "/{client_id}/roles"): Access.ADMIN,
    ("GET", _ROLE): Access.ADMIN,
    ("PUT", _ROLE): Access.ADMIN,
    ("DELETE", _ROLE): Access.ADMIN,
    ("POST", _ROLE + "/actions"): Access.ADMIN,
    ("GET", _ROLE + "/actions"): Access.ADMIN,
    ("POST", _ROLE + "/actions/delete"): Access.ADMIN,
    ("POST", _ROLE + "/actions/delete-all"): Access.ADMIN,
    ("POST", _ROLE + "/members"): Access.ADMIN,
    ("GET", _ROLE + "/members"): Access.ADMIN,
    ("POST", _ROLE + "/members/delete"): Access.ADMIN,
    ("POST", _ROLE + "/members/delete-all"): Access.ADMIN,
}

# Routes of the realm's API sets that MATRIX does not name yet: (path prefix, access for GET, for writes).
RULES: tuple[tuple[str, Access, Access], ...] = (
    (_AE + "/", Access.VIEWER, Access.EDITOR),
    (_RM + "/", Access.VIEWER, Access.EDITOR),
    (_PA + "/agent/", Access.EDITOR, Access.EDITOR),
    (_CL, Access.VIEWER, Access.EDITOR),
)


def required(method: str, path: str) -> Access | None:
    """The access a route (its path template, ``{path:path}`` written ``{path}``) needs; None if unknown."""
    path = path.replace(":path}", "}")
    method = method.upper()
    if method == "HEAD":
        method = "GET"
    known = MATRIX.get((method, path))
    if known is not None:
        return known
    for prefix, read, write in RULES:
        if path.startswith(prefix):
            return read if method == "GET" else write
    return None


def grants(access: Access | None, *, global_role: str | None, realm_role: str | None) -> bool:
    """Whether a caller with these roles (``realm_role`` in the route's realm) has ``access``."""
    if global_role == "admin":
        return True
    if access in (Access.PUBLIC, Access.DEVICE, Access.AUTHENTICATED):
        return True
    if access is None or access is Access.GLOBAL_ADMIN or realm_role is None:
        return False
    return _RANK.get(realm_role, 0) >= _RANK[access.value]


def outranks(role: str, other: str) -> bool:
    """Whether realm role ``role`` is at least ``other``."""
    return _RANK.get(role, 0) >= _RANK.get(other, 0)


def matrix_table() -> str:
    """The matrix as a Markdown table, role by route (README's copy is checked against it)."""
    columns = ("owner", "admin", "editor", "viewer")
    lines = [
        "| route | global admin | " + " | ".join(columns) + " | other keys |",
        "| --- |" + " :-: |" * (len(columns) + 2),
    ]
    for (method, path), access in MATRIX.items():
        note = {Access.PUBLIC: " (no key)", Access.DEVICE: " (the device's secret)"}.get(access, "")
        if access is Access.DEVICE:
            cells = [""] * (len(columns) + 2)
        else:
            marks = ["✓" if grants(access, global_role=None, realm_role=role) else "" for role in columns]
            other = "✓" if access in (Access.AUTHENTICATED, Access.PUBLIC) else ""
            cells = ["✓", *marks, other]
        lines.append(f"| `{method} {path}`{note} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
