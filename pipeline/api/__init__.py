"""The HTTP API: Astarte-compatible routers over the registry and the store."""

from pipeline.api.app import Platform, create_app

__all__ = ["Platform", "create_app"]
