"""Endpoint matching: a concrete path to its mapping and parameter values.

Endpoint templates are compiled into a deterministic trie (literal tokens merged
with the placeholder branch that also accepts them, see ``schemas.templates``),
so ``resolve`` costs one dict lookup per path token, whatever the number of
mappings.

For OBJECT aggregation the device publishes on the object's prefix path
(``/sensor7`` for ``/%{sensor_id}/value`` and ``/%{sensor_id}/temp``; ``/``
when endpoints have one level): ``resolve`` returns the first mapping for it and
``resolve_object`` returns every mapping keyed by its last token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from schemas.templates import EndpointConflict, Leaf, Node, compile_templates, determinize

if TYPE_CHECKING:
    from collections.abc import Callable

    from schemas.interface import Interface
    from schemas.mapping import Mapping

__all__ = [
    "EndpointConflict",
    "EndpointMatch",
    "EndpointTrie",
    "ObjectMatch",
    "compile_templates",
    "is_well_formed_path",
]


class EndpointMatch(NamedTuple):
    """The mapping a path resolves to and its placeholder values by name."""

    mapping: Mapping
    params: dict[str, str]


class ObjectMatch(NamedTuple):
    """An object-aggregated path: its prefix template, mappings by key, parameters."""

    prefix: str
    mappings: dict[str, Mapping]
    params: dict[str, str]


def is_well_formed_path(path: str) -> bool:
    """A path starts with ``/`` and has non-empty tokens free of ``+`` and ``#``."""
    if path == "/":
        return True
    parts = path.split("/")
    return len(parts) > 1 and not parts[0] and all(parts[1:]) and "+" not in path and "#" not in path


_Found = tuple[Leaf, list[str]] | None


def _walk_dfa(root: Node, path: str) -> _Found:
    if path == "/":
        return (root.leaf, []) if root.leaf is not None else None
    parts = path.split("/")
    if parts[0]:
        return None
    node: Node | None = root
    for token in parts[1:]:
        assert node is not None
        nxt = node.literal.get(token)
        if nxt is None:
            nxt = node.wild
            if nxt is None or not token or "+" in token or "#" in token:
                return None
        node = nxt
    leaf = node.leaf if node is not None else None
    return None if leaf is None else (leaf, parts)


def _backtrack(node: Node, parts: list[str], i: int) -> Leaf | None:
    if i == len(parts):
        return node.leaf
    token = parts[i]
    child = node.literal.get(token)
    if child is not None and (found := _backtrack(child, parts, i + 1)) is not None:
        return found
    if node.wild is not None and token and "+" not in token and "#" not in token:
        return _backtrack(node.wild, parts, i + 1)
    return None


def _walk_nfa(root: Node, path: str) -> _Found:
    if path == "/":
        return (root.leaf, []) if root.leaf is not None else None
    parts = path.split("/")
    if parts[0]:
        return None
    leaf = _backtrack(root, parts, 1)
    return None if leaf is None else (leaf, parts)


def _node_budget(root: Node) -> int:
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.literal.values())
        if node.wild is not None:
            stack.append(node.wild)
    return 10_000 + 8 * count


class EndpointTrie:
    """Resolve concrete paths of one interface, one dict lookup per path token.

    An interface whose merged trie would exceed a node budget (crafted
    literal/placeholder interleavings grow it exponentially) keeps the plain
    template trie and backtracks, bounded by that trie's size.
    """

    __slots__ = ("_by_key", "_root", "_walk", "deterministic", "interface", "is_object")

    def __init__(self, interface: Interface) -> None:
        self.interface = interface
        mappings = interface.mappings
        self.is_object = interface.aggregation.value == "object"
        self._by_key = {m.last_token: m for m in mappings} if self.is_object else {}
        if self.is_object and not mappings[0].prefix:
            root = Node()
            root.leaf = Leaf(0, "/", ())
        else:
            templates = [mappings[0].prefix] if self.is_object else [m.endpoint for m in mappings]
            root = compile_templates(templates)
        merged = determinize(root, _node_budget(root))
        self.deterministic = merged is not None
        self._root = merged if merged is not None else root
        self._walk: Callable[[Node, str], _Found] = _walk_dfa if merged is not None else _walk_nfa

    def lookup(self, path: str) -> int | None:
        """Index in ``interface.mappings`` of the mapping ``path`` resolves to (0 for objects)."""
        found = self._walk(self._root, path)
        return None if found is None else found[0].position

    def resolve(self, path: str) -> EndpointMatch | None:
        """The mapping and parameters for ``path``, or None when nothing matches."""
        found = self._walk(self._root, path)
        if found is None:
            return None
        leaf, parts = found
        params = {name: parts[i] for i, name in leaf.params}
        return EndpointMatch(self.interface.mappings[leaf.position], params)

    def resolve_object(self, path: str) -> ObjectMatch | None:
        """For an object interface: the prefix, mappings by last token and parameters."""
        if not self.is_object:
            return None
        found = self._walk(self._root, path)
        if found is None:
            return None
        leaf, parts = found
        params = {name: parts[i] for i, name in leaf.params}
        return ObjectMatch(leaf.template, dict(self._by_key), params)
