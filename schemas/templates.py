"""Endpoint templates compiled into tries, and detection of templates one path could match twice.

The template trie is non-deterministic where a node has both a literal and a
placeholder child. ``find_conflict`` walks pairs of nodes reachable by one
concrete path (polynomial, unlike subset construction); ``determinize`` merges
the placeholder branch into literal siblings so lookups never backtrack, within
a node budget that pathological interfaces would otherwise exceed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from schemas.mapping import endpoint_tokens, placeholder_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["EndpointConflict", "Leaf", "Node", "build_nfa", "compile_templates", "determinize"]


class EndpointConflict(Exception):
    """Two templates can match one path (``kind`` is ``ambiguous`` or ``prefix``)."""

    def __init__(self, kind: str, first: str, second: str) -> None:
        super().__init__(f"{kind}: {first!r} and {second!r}")
        self.kind, self.first, self.second = kind, first, second


class Leaf(NamedTuple):
    """A template's end: its position in the input, text and parameter positions."""

    position: int
    template: str
    params: tuple[tuple[int, str], ...]  # (index into path.split("/"), name)


class Node:
    """One trie node: literal children by token, one placeholder child, maybe a leaf."""

    __slots__ = ("leaf", "literal", "wild")

    def __init__(self) -> None:
        self.literal: dict[str, Node] = {}
        self.wild: Node | None = None
        self.leaf: Leaf | None = None


def build_nfa(templates: Iterable[str]) -> Node:
    """The template trie; placeholders of any name share a node's single ``wild`` child."""
    root = Node()
    for index, template in enumerate(templates):
        node, params = root, []
        for position, token in enumerate(endpoint_tokens(template), start=1):
            name = placeholder_name(token)
            if name is None:
                node = node.literal.setdefault(token, Node())
            else:
                params.append((position, name))
                if node.wild is None:
                    node.wild = Node()
                node = node.wild
        if node.leaf is not None:
            raise EndpointConflict("ambiguous", node.leaf.template, template)
        node.leaf = Leaf(index, template, tuple(params))
    return root


def _leaf_below(node: Node) -> Leaf:
    child = next(iter(node.literal.values()), None) or node.wild
    assert child is not None, "an inner trie node always has a child"
    return child.leaf if child.leaf is not None else _leaf_below(child)


def _pair_conflict(u: Node, v: Node) -> EndpointConflict | None:
    inner_u, inner_v = bool(u.literal) or u.wild is not None, bool(v.literal) or v.wild is not None
    if u is v:
        if u.leaf is not None and inner_u:
            return EndpointConflict("prefix", u.leaf.template, _leaf_below(u).template)
        return None
    if u.leaf is not None and v.leaf is not None:
        return EndpointConflict("ambiguous", u.leaf.template, v.leaf.template)
    if u.leaf is not None and inner_v:
        return EndpointConflict("prefix", u.leaf.template, _leaf_below(v).template)
    if v.leaf is not None and inner_u:
        return EndpointConflict("prefix", v.leaf.template, _leaf_below(u).template)
    return None


def find_conflict(root: Node) -> EndpointConflict | None:
    """The first pair of templates some concrete path matches both (or one as a prefix)."""
    seen: set[tuple[int, int]] = set()
    stack = [(root, root)]
    while stack:
        u, v = stack.pop()
        key = (id(u), id(v)) if id(u) <= id(v) else (id(v), id(u))
        if key in seen:
            continue
        seen.add(key)
        if (conflict := _pair_conflict(u, v)) is not None:
            return conflict
        for token, child in u.literal.items():
            if (match := v.literal.get(token)) is not None:
                stack.append((child, match))
            if v.wild is not None:
                stack.append((child, v.wild))
        if u.wild is not None:
            stack.extend((u.wild, child) for child in v.literal.values())
            if v.wild is not None:
                stack.append((u.wild, v.wild))
    return None


class _OverBudget(Exception):
    pass


def _merge(states: Sequence[Node], memo: dict[frozenset[int], Node], budget: list[int]) -> Node:
    key = frozenset(map(id, states))
    if (done := memo.get(key)) is not None:
        return done
    budget[0] -= 1
    if budget[0] < 0:
        raise _OverBudget
    node = memo[key] = Node()
    node.leaf = next((s.leaf for s in states if s.leaf is not None), None)
    wilds = [s.wild for s in states if s.wild is not None]
    for token in {t: None for s in states for t in s.literal}:
        branch = [s.literal[token] for s in states if token in s.literal]
        node.literal[token] = _merge(branch + wilds, memo, budget)
    if wilds:
        node.wild = _merge(wilds, memo, budget)
    return node


def determinize(root: Node, max_nodes: int) -> Node | None:
    """A trie where a literal child also holds its placeholder sibling's subtree, or None if too big.

    Only meaningful for conflict-free tries: every path then reaches one leaf.
    """
    try:
        return _merge([root], {}, [max_nodes])
    except _OverBudget:
        return None


def compile_templates(templates: Iterable[str]) -> Node:
    """The template trie, raising EndpointConflict when one path could match two templates."""
    root = build_nfa(templates)
    if (conflict := find_conflict(root)) is not None:
        raise conflict
    return root
