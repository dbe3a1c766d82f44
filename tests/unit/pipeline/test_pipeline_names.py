"""Device ids and realm names: what Astarte accepts and what it refuses."""

from __future__ import annotations

import pytest

from schemas.names import device_id_error, random_device_id, realm_name_error


def test_random_device_ids_are_valid_and_distinct() -> None:
    ids = [random_device_id() for _ in range(200)]

    assert [device_id_error(i) for i in ids] == [None] * len(ids)
    assert all(len(i) == 22 for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "device_id",
    [
        "f0VMRgIBAQAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "_____________________w",  # 'w' = 0b110000: the four padding bits are zero
        "-_-_-_-_-_-_-_-_-_-_-g",
        "2uL5zY6tSEyAaFv_4G0N-Q",
    ],
)
def test_valid_device_ids(device_id: str) -> None:
    assert device_id_error(device_id) is None


@pytest.mark.parametrize(
    ("device_id", "why"),
    [
        ("", "22 base64url characters"),
        ("f0VMRgIBAQAAAAAAAAAAA", "22 base64url characters"),  # 21
        ("f0VMRgIBAQAAAAAAAAAAAAA", "22 base64url characters"),  # 23
        ("f0VMRgIBAQAAAAAAAAAAAAAA==", "22 base64url characters"),  # padded
        ("f0VMRgIBAQAAAAAAAAAA+A", "22 base64url characters"),  # standard, not url, alphabet
        ("f0VMRgIBAQAAAAAAAAAA/A", "22 base64url characters"),
        ("f0VMRgIBAQAAAAAAAAAA=A", "22 base64url characters"),
        ("f0VMRgIBAQAAAAAAAAAA A", "22 base64url characters"),
        ("f0VMRgIBAQAAAAAAAAAA.A", "22 base64url characters"),
        ("f0VMRgIBAQAAAAAAAAAA\u00e9A", "22 base64url characters"),
        ("f0VMRgIBAQAAAAAAAAAAAB", "non-zero padding bits"),
        ("f0VMRgIBAQAAAAAAAAAAAP", "non-zero padding bits"),
        ("______________________", "non-zero padding bits"),
        # '$' also matches before a trailing newline; the id must still be refused.
        ("f0VMRgIBAQAAAAAAAAAAAA\n", ""),
    ],
)
def test_invalid_device_ids(device_id: str, why: str) -> None:
    error = device_id_error(device_id)

    assert error is not None
    assert why in error
    assert repr(device_id) in error


@pytest.mark.parametrize("name", ["a", "acme", "realm2", "a" + "0" * 47, "astartex", "systems", "xastarte"])
def test_valid_realm_names(name: str) -> None:
    assert realm_name_error(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "must match"),
        ("Acme", "must match"),
        ("1acme", "must match"),
        ("ac-me", "must match"),
        ("ac_me", "must match"),
        ("ac me", "must match"),
        ("acm\u00e9", "must match"),
        ("a" + "0" * 48, "must match"),  # 49 characters
        ("astarte", "reserved"),
        ("system", "reserved"),
        ("system_x", ""),  # refused by the pattern (no '_') before the reserved prefix rule
    ],
)
def test_invalid_realm_names(name: str, why: str) -> None:
    error = realm_name_error(name)

    assert error is not None
    assert why in error


@pytest.mark.parametrize("name", ["acme\n", "astarte\n"])
def test_realm_name_with_trailing_newline_is_refused(name: str) -> None:
    assert realm_name_error(name) is not None
