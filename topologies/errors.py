"""Errors of the stream-processing topologies."""

from __future__ import annotations

from schemas.errors import HeadwaterError


class TopologyError(HeadwaterError):
    """A topology could not be built or started."""
