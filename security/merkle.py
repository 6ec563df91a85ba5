"""RFC 6962 Merkle hash trees (Certificate Transparency, §2.1; verification as in RFC 9162 §2.1.3–2.1.4).

The audit log's entries are the leaves, in sequence order. Everything here works on *leaf hashes*
(``leaf_hash(entry_bytes)``), so a log's hashes can be streamed out of the database without the entries.

- ``tree_head(leaves)`` is MTH(D[n]): the hash of the empty string for no leaves, the leaf hash for one, and
  ``node_hash(MTH(D[0:k]), MTH(D[k:n]))`` with k the largest power of two smaller than n otherwise.
- :class:`Frontier` is the same head computed while appending, in O(log n) memory: the roots of the perfect
  subtrees that n decomposes into (a *compact range* over [0, n)). A checkpoint stores its frontier, so a
  later head can be computed from the checkpoint and the leaves after it.
- Inclusion and consistency proofs, and their verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_head(leaves: Sequence[bytes]) -> bytes:
    """MTH over the leaf hashes ``leaves`` (RFC 6962 §2.1)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(tree_head(leaves[:k]), tree_head(leaves[k:]))


class Frontier:
    """The tree head of a growing log. ``nodes`` are the roots of the perfect subtrees of [0, size), the
    largest (leftmost) first: one per set bit of ``size``."""

    __slots__ = ("size", "nodes")

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.nodes = list(nodes)
        if len(self.nodes) != size.bit_count() or any(len(n) != HASH_SIZE for n in self.nodes):
            raise ValueError(
                f"a frontier of {size} leaves has {size.bit_count()} hashes of {HASH_SIZE} bytes"
            )

    def append(self, leaf: bytes) -> None:
        """Add the next leaf: merge equal-sized subtrees, as a binary counter carries."""
        node, size = leaf, self.size
        while size & 1:
            node = node_hash(self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the leaves so far: the subtrees folded right to left (the largest-power-of-two split)."""
        if not self.nodes:
            return EMPTY_ROOT
        node = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            node = node_hash(left, node)
        return node

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) (RFC 6962 §2.1.1): the audit path of leaf ``index`` in the tree of ``leaves``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof(leaves[:k], index) + [tree_head(leaves[k:])]
    return inclusion_proof(leaves[k:], index - k) + [tree_head(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], m: int) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 6962 §2.1.2): that the tree of the first ``m`` leaves is a prefix of this one."""
    n = len(leaves)
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from {m} to {n}")
    if m == 0 or m == n:
        return []
    return _subproof(leaves, m, True)


def _subproof(leaves: Sequence[bytes], m: int, whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [tree_head(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(leaves[:k], m, whole) + [tree_head(leaves[k:])]
    return _subproof(leaves[k:], m - k, False) + [tree_head(leaves[:k])]


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to (RFC 9162 §2.1.3.2), or None when it cannot be a path."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of size ``m`` with head ``root_m`` to be a prefix of the tree of size
    ``n`` with head ``root_n`` (RFC 9162 §2.1.4.2)."""
    if not 0 <= m <= n or any(len(p) != HASH_SIZE for p in proof):
        return False
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the old tree is a node of the new one
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root_m and sr == root_n
