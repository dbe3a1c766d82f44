"""``TriggerError``: a trigger or delivery policy breaks one of Astarte's rules.

It lives in its own module because this work adds only new files; it belongs
next to ``InterfaceError`` in ``schemas.errors`` and can move there unchanged.
"""

from __future__ import annotations

from schemas.errors import HeadwaterError

__all__ = ["TriggerError"]


class TriggerError(HeadwaterError):
    """A trigger or policy definition is invalid.

    The message starts with the field (``simple_triggers[0].match_path``) and
    states the rule, so an API can return it as is; ``field`` holds the field.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
