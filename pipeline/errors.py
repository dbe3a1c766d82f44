"""Errors of the composing layer: registry, store, API."""

from __future__ import annotations

from schemas.errors import HeadwaterError


class NotFoundError(HeadwaterError):
    """A realm, device, interface or key that does not exist."""


class ConflictError(HeadwaterError):
    """Something already exists, or is in use."""


class ValidationError(HeadwaterError):
    """A request that breaks a rule; the message says which."""


class UnauthorizedError(HeadwaterError):
    """No credentials, or unknown ones."""


class ForbiddenError(HeadwaterError):
    """Known credentials without the right."""


class StoreError(HeadwaterError):
    """ClickHouse refused or could not be reached."""

    retriable = True


class BusyError(HeadwaterError):
    """A bounded resource (e.g. the SQL lanes) is fully in use: try again later."""

    retriable = True


class StartupError(HeadwaterError):
    """A process could not start: a port in use, a missing binary, a service not answering."""


class BadRequestError(ValidationError):
    """A malformed request parameter (400 rather than 422)."""
