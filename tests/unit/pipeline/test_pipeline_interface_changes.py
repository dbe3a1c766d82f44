"""Interface events implied by a new introspection."""

from __future__ import annotations

import pytest

from pipeline.registry.status import interface_changes


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({}, {"a.B": [1, 0]}, [("interface_added", "a.B", "1", "0")]),
        ({"a.B": (1, 0)}, {"a.B": [1, 2]}, [("interface_minor_updated", "a.B", "1", "2")]),
        ({"a.B": (1, 0)}, {}, [("interface_removed", "a.B", "1", "0")]),
        (
            {"a.B": (1, 3)},
            {"a.B": [2, 0]},
            [("interface_added", "a.B", "2", "0"), ("interface_removed", "a.B", "1", "3")],
        ),
        ({"a.B": (1, 0)}, {"a.B": [1, 0]}, []),
    ],
)
def test_interface_changes(
    before: dict[str, tuple[int, int]], after: dict[str, list[int]], expected: list[tuple[str, ...]]
) -> None:
    changes = interface_changes(before, after)

    assert [(kind, f["interface"], f["major_version"], f["minor_version"]) for kind, f in changes] == expected
