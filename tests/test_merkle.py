"""RFC 6962 Merkle trees against the published test vectors.

The vectors are those of transparency-dev/merkle (``testonly/constants.go``, ``proof/verify_test.go``),
carried over from Certificate Transparency's reference implementation: eight leaf inputs, the tree head of
every prefix, and audit paths and consistency proofs between some of the sizes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from security.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    tree_head,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
LEAVES = [leaf_hash(d) for d in INPUTS]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # the empty tree
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 8, _hashes(
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    )),
    (5, 8, _hashes(
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    )),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, _hashes(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    )),
    (0, 1, []),
]  # fmt: skip

# (size m, size n, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, _hashes(
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    )),
    (6, 8, _hashes(
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    )),
    (2, 5, _hashes(
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    )),
    (6, 7, _hashes(
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    )),
]  # fmt: skip

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    return [bytes([p[0] ^ 16]) + p[1:] if j == i else p for j, p in enumerate(proof)]


def test_empty_tree_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT == ROOTS[0] == tree_head([]) == Frontier().root()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert LEAVES[0] == ROOTS[1]
    assert node_hash(LEAVES[0], LEAVES[1]) == ROOTS[2]


@pytest.mark.parametrize("size", range(9))
def test_tree_head_of_every_prefix(size: int) -> None:
    assert tree_head(LEAVES[:size]) == ROOTS[size]
    frontier = Frontier()
    frontier.extend(LEAVES[:size])
    assert frontier.root() == ROOTS[size]
    assert Frontier(size, frontier.nodes).root() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(LEAVES[:size], index) == proof
    assert verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size])
    assert root_from_inclusion_proof(index, size, LEAVES[index], proof) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), [v for v in INCLUSION if v[2]])
def test_corrupt_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    root, leaf = ROOTS[size], LEAVES[index]
    probes = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, b"WrongLeaf", proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, proof + [b""], root),
        (index, size, leaf, proof + [root], root),
        (index, size, leaf, [root] + proof, root),
        (index, size, leaf, proof[:-1], root),
    ] + [(index, size, leaf, _flip(proof, i), root) for i in range(len(proof))]
    for probe in probes:
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_consistency_vectors(m: int, n: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES[:n], m) == proof
    assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


@pytest.mark.parametrize(("m", "n", "proof"), [v for v in CONSISTENCY if v[2]])
def test_corrupt_consistency_proofs_fail(m: int, n: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[m], ROOTS[n]
    probes = [
        (m - 1, n, r1, r2, proof),
        (m + 1, n, r1, r2, proof),
        (m ^ 2, n, r1, r2, proof),
        (m, n * 2, r1, r2, proof),
        (m, n // 2, r1, r2, proof),
        (m, n, b"WrongRoot", r2, proof),
        (m, n, r1, b"WrongRoot", proof),
        (m, n, r2, r1, proof),
        (m, n, r1, r2, []),
        (m, n, r1, r2, proof + [b""]),
        (m, n, r1, r2, proof + [r1]),
        (m, n, r1, r2, proof + [r2]),
        (m, n, r1, r2, [b""] + proof),
        (m, n, r1, r2, [r1] + proof),
        (m, n, r1, r2, [r2] + proof),
        (m, n, r1, r2, [proof[0]] + proof),
        (m, n, r1, r2, proof[:-1]),
    ] + [(m, n, r1, r2, _flip(proof, i)) for i in range(len(proof))]
    for probe in probes:
        assert not verify_consistency(*probe), probe[:2]


def test_trivial_consistency() -> None:
    root1, root2 = b"don't care 1", b"don't care 2"
    assert verify_consistency(0, 0, root1, root1, [])
    assert verify_consistency(0, 1, root1, root2, [])
    assert not verify_consistency(1, 1, root1, root2, [])
    assert not verify_consistency(1, 0, root1, root2, [])  # back in time
    assert not verify_consistency(1, 2, root1, root2, [])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(
    lambda ds: [leaf_hash(d) for d in ds]
)


@settings(deadline=None)  # no timing in tests: a loaded machine is slow, not wrong
@given(leaf_lists, st.data())
def test_proofs_of_any_tree_verify_and_bit_flips_fail(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    frontier = Frontier()
    for i, leaf in enumerate(leaves):
        frontier.append(leaf)
        assert frontier.size == i + 1 and len(frontier.nodes) == (i + 1).bit_count()
    root = tree_head(leaves)
    assert frontier.root() == root
    index = data.draw(st.integers(0, n - 1))
    path = inclusion_proof(leaves, index)
    assert verify_inclusion(index, n, leaves[index], path, root)
    m = data.draw(st.integers(1, n))
    proof = consistency_proof(leaves, m)
    assert verify_consistency(m, n, tree_head(leaves[:m]), root, proof)
    for i in range(len(proof)):
        assert not verify_consistency(m, n, tree_head(leaves[:m]), root, _flip(proof, i))
    for i in range(len(path)):
        assert not verify_inclusion(index, n, leaves[index], _flip(path, i), root)
