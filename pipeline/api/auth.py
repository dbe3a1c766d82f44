"""Who is calling, and may they: API keys as ``Authorization: Bearer <key>`` or ``X-API-KEY``.

Every route that takes ``Caller`` is checked against ``pipeline.permissions``:
its method and path template name the access it needs, the ``realm`` (or
housekeeping's ``name``, or the clients API's ``domain_id``) path parameter the
realm. A missing or unknown key is 401, a known key without the right 403. An
Astarte JWT (``tokens``) is accepted instead of a key on a realm's API sets,
where its claims decide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from pipeline.api import tokens
from pipeline.errors import ForbiddenError, NotFoundError, UnauthorizedError
from pipeline.permissions import Access, grants, required
from pipeline.registry import Accounts, ApiKeyRecord, Principal


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request carries, Bearer first."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return x_api_key or None


def route_template(request: Request) -> str:
    """The matched route's full path template, router prefixes included."""
    # FastAPI 0.16x keeps included routes unprefixed and records the effective (prefixed) route here.
    effective = (request.scope.get("fastapi") or {}).get("effective_route_context")
    route = effective or request.scope.get("route")
    return str(getattr(route, "path_format", None) or request.url.path)


def route_access(request: Request) -> tuple[Access | None, str | None]:
    """The access the matched route needs, and the realm it concerns."""
    template = route_template(request)
    access = required(request.method, template)
    params = request.path_params
    realm = params.get("realm")
    if realm is None and template.startswith("/housekeeping/v1/realms/"):
        realm = params.get("name")
    if realm is None and template.startswith("/{domain_id}/clients"):
        realm = params.get("domain_id")  # Magistrala's domain is the realm
    return access, realm


# The scope key under which ``aliases`` marks a request whose alias names no device (its 404 message).
UNKNOWN_ALIAS = "headwater.unknown_alias"


async def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller behind the API key, allowed by the permission matrix for this route.

    Only an allowed caller learns that the alias it asked for names no device (404).
    """
    principal = await _allowed_caller(request, authorization, x_api_key)
    unknown = request.scope.get(UNKNOWN_ALIAS)
    if unknown is not None:
        raise NotFoundError(unknown)
    return principal


async def _allowed_caller(request: Request, authorization: str | None, x_api_key: str | None) -> Principal:
    key = presented_key(authorization, x_api_key)
    if not key:
        raise UnauthorizedError("missing credentials: send Authorization: Bearer <api key> or X-API-KEY")
    if tokens.looks_like_jwt(key):
        return await _jwt_caller(request, key)
    principal = await Accounts(request.app.state.platform.registry).principal(key)
    if principal is None:
        raise UnauthorizedError("unknown, expired or revoked API key")
    access, realm = route_access(request)
    if not grants(access, global_role=principal.acting_global_role, realm_role=principal.role_in(realm)):
        where = f" in realm {realm!r}" if realm else ""
        raise ForbiddenError(f"API key {principal.id} may not {request.method} {request.url.path}{where}")
    return principal


async def _jwt_caller(request: Request, token: str) -> Principal:
    """An Astarte JWT: verified with the realm's (or housekeeping's) key, then its claims decide."""
    where = tokens.split_path(request.url.path)
    if where is not None and where[0] == "housekeeping":
        return _housekeeping_caller(request, token)
    _, realm = route_access(request)
    if realm is None or where is None:
        raise UnauthorizedError("JWTs are accepted on a realm's API sets only; send an API key")
    try:
        pem = (await request.app.state.platform.registry.get_realm(realm)).jwt_public_key_pem
    except NotFoundError:
        pem = None
    if not pem:
        raise UnauthorizedError(f"realm {realm!r} has no jwt_public_key_pem to verify JWTs with")
    claims = _judged(request, token, pem)
    return Principal(_jwt_record(claims, realm), None)


def _housekeeping_caller(request: Request, token: str) -> Principal:
    """A housekeeping JWT (``a_ha``), verified with the installation's housekeeping public key."""
    path = request.app.state.platform.auth.housekeeping_jwt_public_key_path
    if path is None:
        raise UnauthorizedError(
            "no housekeeping public key is configured (HEADWATER_AUTH__HOUSEKEEPING_JWT_PUBLIC_KEY_PATH)"
        )
    try:
        pem = Path(path).read_text()
    except OSError as exc:
        raise UnauthorizedError(f"the housekeeping public key {path} cannot be read: {exc}") from exc
    claims = _judged(request, token, pem)
    # Housekeeping's holder manages every realm, as Astarte's housekeeping JWT does.
    return Principal(_jwt_record(claims, None), "admin")


def _judged(request: Request, token: str, pem: str) -> dict[str, Any]:
    """The token's claims, once verified and found to allow this request."""
    try:
        claims = tokens.verify(token, pem)
    except tokens.TokenError as exc:
        raise UnauthorizedError(str(exc)) from exc
    if not tokens.allows(claims, request.method, request.url.path):
        raise ForbiddenError(f"the JWT's claims do not allow {request.method} {request.url.path}")
    return claims


def _jwt_record(claims: dict[str, Any], realm: str | None) -> ApiKeyRecord:
    expires = claims.get("exp")
    subject = str(claims.get("sub", "")) or None
    return ApiKeyRecord("jwt", "jwt", None, int(expires * 1e6) if expires else None, subject, realm)


Caller = Annotated[Principal, Depends(caller)]
