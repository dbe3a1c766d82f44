"""Errors of the device-facing broker."""

from __future__ import annotations

from schemas.errors import HeadwaterError


class ForwardError(HeadwaterError):
    """Kafka did not acknowledge a batch; the messages in it were not acknowledged to devices."""

    retriable = True


class ConnectionLimitError(HeadwaterError):
    """A device connection went past one of its limits (``broker.limits``); it is closed."""
