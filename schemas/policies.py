"""Delivery policies (astarte.md §5) and ``decide``, the pure retry/discard decision.

A policy says what to do with a failed HTTP delivery: error handlers by class
(``client_error`` 4xx, ``server_error`` 5xx, ``any_error``) or by status codes,
each ``discard`` or ``retry``; ``retry_times`` bounds retries, ``event_ttl``
bounds an event's age, ``maximum_capacity`` its queue (the full queue drops the
oldest) and ``prefetch_count`` the deliveries in flight (1 keeps order).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator

from schemas.trigger_errors import TriggerError

__all__ = [
    "DEFAULT_POLICY",
    "TRANSPORT_ERROR",
    "Action",
    "Decision",
    "DeliveryPolicy",
    "ErrorHandler",
    "Outcome",
    "Strategy",
    "TriggerError",
    "backoff_s",
    "decide",
    "is_expired",
    "parse_policy",
]

TRANSPORT_ERROR = "transport_error"
"""The outcome of a request that got no HTTP status (refused, reset, timed out, TLS)."""
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
_CLASSES = {
    "client_error": range(400, 500),
    "server_error": range(500, 600),
    "any_error": range(400, 600),
}


class Strategy(StrEnum):
    """What a handler does with an event whose delivery failed."""

    DISCARD = "discard"
    RETRY = "retry"


class ErrorHandler(BaseModel):
    """``{"on": class | [codes], "strategy": ...}``: one rule of a policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    on: Literal["client_error", "server_error", "any_error"] | tuple[StrictInt, ...]
    strategy: Strategy

    @model_validator(mode="after")
    def _codes(self) -> ErrorHandler:
        if isinstance(self.on, tuple):
            if not self.on:
                raise ValueError("on: a list of status codes must not be empty")
            bad = [c for c in self.on if not 400 <= c <= 599]
            if bad:
                raise ValueError(f"on: status code {bad[0]} is not an HTTP error (400..599)")
            if len(set(self.on)) != len(self.on):
                raise ValueError("on: a status code is listed twice")
        return self

    @property
    def codes(self) -> frozenset[int]:
        """The status codes this handler covers."""
        return frozenset(_CLASSES[self.on]) if isinstance(self.on, str) else frozenset(self.on)

    def to_json(self) -> dict[str, Any]:
        """Astarte's handler JSON."""
        return {"on": self.on if isinstance(self.on, str) else list(self.on), "strategy": self.strategy.value}


class DeliveryPolicy(BaseModel):
    """A named delivery policy; building one runs every rule of astarte.md §5."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    error_handlers: Annotated[tuple[ErrorHandler, ...], Field(min_length=1, max_length=200)]
    maximum_capacity: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    retry_times: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    event_ttl: Annotated[StrictInt, Field(ge=1, le=86_400)] | None = None
    prefetch_count: Annotated[StrictInt, Field(ge=1, le=300)] = 1

    @model_validator(mode="after")
    def _rules(self) -> DeliveryPolicy:
        if self.name.startswith("@"):
            raise ValueError("name: must not start with '@' (reserved for built-in policies)")
        seen: set[int] = set()
        for i, handler in enumerate(self.error_handlers):
            overlap = seen & handler.codes
            if overlap:
                raise ValueError(f"error_handlers[{i}]: overlaps an earlier handler on {min(overlap)}")
            seen |= handler.codes
        retries = any(h.strategy is Strategy.RETRY for h in self.error_handlers)
        if retries and self.retry_times is None:
            raise ValueError("retry_times: is required when a handler retries")
        if not retries and self.retry_times is not None:
            raise ValueError("retry_times: is allowed only when a handler retries")
        return self

    def handler_for(self, outcome: Outcome) -> ErrorHandler | None:
        """The handler covering a failed outcome; a transport error counts as a server error."""
        code = 503 if outcome == TRANSPORT_ERROR else outcome
        for handler in self.error_handlers:
            if outcome == TRANSPORT_ERROR and isinstance(handler.on, tuple):
                continue  # status-code lists name real answers, not missing ones
            if code in handler.codes:
                return handler
        return None

    def to_json(self) -> dict[str, Any]:
        """Astarte's policy JSON; ``parse_policy`` inverts it."""
        out: dict[str, Any] = {
            "name": self.name,
            "error_handlers": [h.to_json() for h in self.error_handlers],
            "maximum_capacity": self.maximum_capacity,
        }
        if self.retry_times is not None:
            out["retry_times"] = self.retry_times
        if self.event_ttl is not None:
            out["event_ttl"] = self.event_ttl
        out["prefetch_count"] = self.prefetch_count
        return out


DEFAULT_POLICY = DeliveryPolicy.model_construct(
    name="@default",
    error_handlers=(ErrorHandler(on="any_error", strategy=Strategy.DISCARD),),
    maximum_capacity=1_000_000,
    retry_times=None,
    event_ttl=None,
    prefetch_count=1,
)
"""Astarte's behaviour without a policy: one attempt, failures discarded."""


def parse_policy(data: object) -> DeliveryPolicy:
    """Validate policy JSON (a dict, str or bytes) into a ``DeliveryPolicy`` or raise ``TriggerError``."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TriggerError(f"policy: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise TriggerError("policy: must be a JSON object")
    try:
        return DeliveryPolicy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = [p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or "function" in p))]
        msg = str(error["msg"]).removeprefix("Value error, ")
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        head, sep, rest = msg.partition(": ")
        if sep and (head.isidentifier() or not field):
            field, msg = (f"{field}.{head}" if field and head.isidentifier() else head), rest
        msg = msg.replace("Tuple", "List")
        if error["type"] == "missing":
            msg = "is required"
        elif error["type"] == "extra_forbidden":
            msg = "is not a known field"
        field = field or "policy"
        raise TriggerError(f"{field}: {msg}", field=field) from None


Outcome = int | Literal["transport_error"]
"""An HTTP status code, or ``TRANSPORT_ERROR`` when no status came back."""


class Action(StrEnum):
    """What the delivery topology does next with an event."""

    DONE = "done"
    RETRY = "retry"
    DISCARD = "discard"
    DEAD_LETTER = "dead_letter"


class Decision(NamedTuple):
    """``decide``'s answer: the action, the delay before a retry, and why."""

    action: Action
    after_s: float = 0.0
    reason: str = ""


def backoff_s(attempt: int) -> float:
    """Exponential delay before retry number ``attempt`` (1, 2, 4 … capped at 60 s)."""
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** max(0, attempt - 1))


def decide(policy: DeliveryPolicy, outcome: Outcome, attempt: int, age_s: float = 0.0) -> Decision:
    """What to do after delivery ``attempt`` (1 = first try) ended with ``outcome``.

    2xx (and any answer below 400) is done. A failure goes to the first handler
    covering it: ``discard`` discards; ``retry`` retries after a backoff while
    fewer than ``retry_times`` retries were made and the event is younger than
    ``event_ttl``, else dead-letters. A failure no handler covers dead-letters.
    """
    if outcome != TRANSPORT_ERROR and int(outcome) < 400:
        return Decision(Action.DONE, reason=f"HTTP {outcome}")
    label = "transport error" if outcome == TRANSPORT_ERROR else f"HTTP {outcome}"
    handler = policy.handler_for(outcome)
    if handler is None:
        return Decision(
            Action.DEAD_LETTER, reason=f"{label}: no error handler of policy {policy.name} covers it"
        )
    if handler.strategy is Strategy.DISCARD:
        return Decision(Action.DISCARD, reason=f"{label}: policy {policy.name} discards it")
    retries_made = attempt - 1
    if policy.retry_times is not None and retries_made >= policy.retry_times:
        return Decision(Action.DEAD_LETTER, reason=f"{label}: {policy.retry_times} retries exhausted")
    delay = backoff_s(attempt)
    if policy.event_ttl is not None and age_s + delay >= policy.event_ttl:
        return Decision(Action.DEAD_LETTER, reason=f"{label}: event_ttl {policy.event_ttl}s would pass")
    return Decision(Action.RETRY, after_s=delay, reason=f"{label}: retry {retries_made + 1}")


def is_expired(policy: DeliveryPolicy, age_s: float) -> bool:
    """True when an event of age ``age_s`` outlived the policy's ``event_ttl`` (check before sending)."""
    return policy.event_ttl is not None and age_s >= policy.event_ttl
