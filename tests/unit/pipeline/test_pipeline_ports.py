"""Port checks at startup: a taken port names the flag that changes it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pipeline.errors import StartupError
from pipeline.ports import accepts, ensure_free, free_port

HOST = "127.0.0.1"


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def bound_only() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("holder", ["listener", "bound_only"])
@pytest.mark.parametrize("flag", ["--api-port", "--mqtt-port"])
def test_ensure_free_names_the_flag_when_taken(
    request: pytest.FixtureRequest, holder: str, flag: str
) -> None:
    port: int = request.getfixturevalue(holder)

    with pytest.raises(StartupError) as caught:
        ensure_free(HOST, port, flag)

    message = str(caught.value)
    assert flag in message
    assert str(port) in message
    assert isinstance(caught.value.__cause__, OSError)


def test_ensure_free_passes_on_a_free_port() -> None:
    port = free_port(HOST)
    ensure_free(HOST, port, "--api-port")  # raises if the port were taken
    assert 0 < port < 65536


def test_free_port_is_bindable() -> None:
    port = free_port()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, port))
        assert sock.getsockname()[1] == port


def test_accepts_a_listener(listener: int) -> None:
    assert accepts(HOST, listener) is True


def test_accepts_nothing_on_a_free_port() -> None:
    assert accepts(HOST, free_port(), timeout=0.2) is False


def test_accepts_nothing_on_a_bound_port_that_does_not_listen(bound_only: int) -> None:
    assert accepts(HOST, bound_only, timeout=0.2) is False
