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
    """ClickHouse could not be reached, or refused for a reason that may pass (a retry may succeed)."""

    retriable = True


class StoreRejectedError(StoreError):
    """ClickHouse or its client refuses these values: the same rows will never be stored."""

    retriable = False


class RegistryUnavailableError(HeadwaterError):
    """The registry's database did not answer; the same lookup may succeed later."""

    retriable = True


class BusyError(HeadwaterError):
    """A bounded resource (e.g. the SQL lanes) is fully in use: try again later."""

    retriable = True


class StartupError(HeadwaterError):
    """A process could not start: a port in use, a missing binary, a service not answering."""


class BadRequestError(ValidationError):
    """A malformed request parameter (400 rather than 422)."""
