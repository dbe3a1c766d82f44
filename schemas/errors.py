"""The root of Headwater's errors; every layer subclasses it in its own ``errors.py``."""

from __future__ import annotations


class HeadwaterError(Exception):
    """Base of every error Headwater raises on purpose.

    ``retriable`` tells callers whether the same call may succeed later
    (a broker briefly away), as aiokafka's ``KafkaError`` does.
    """

    retriable: bool = False


class InterfaceError(HeadwaterError):
    """An interface definition breaks one of Astarte's rules.

    The message names the field and the rule, so an API can return it as is.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
