"""Deterministic randomness and exact money for the demo generator.

Every section of the generator draws from its own ``random.Random`` seeded from the run's seed and a
section label (a string seed is hashed with SHA-512 by ``random``, never with ``hash()``, so the result
does not depend on PYTHONHASHSEED). Money is integer fen throughout; amounts are drawn from log-normal
quantile tables of integer per-mille multipliers, so no float ever becomes an amount.
"""

from __future__ import annotations

import random
from statistics import NormalDist

_QUANTILES = 64


def rng_for(seed: int, *parts: object) -> random.Random:
    """A Random for one section of the generator, independent of every other section's draws."""
    return random.Random("|".join([str(seed), *map(str, parts)]))


def _table(sigma_milli: int) -> tuple[int, ...]:
    # Computed once at import; rounding to integer per-mille makes the table (and every amount drawn
    # from it) identical wherever the standard library's inverse normal and exp agree to 1e-3.
    import math

    nd = NormalDist()
    return tuple(
        round(1000 * math.exp(sigma_milli / 1000 * nd.inv_cdf((i + 0.5) / _QUANTILES)))
        for i in range(_QUANTILES)
    )


#: sigma (in thousandths) → sorted per-mille multipliers of the median
LOGNORMAL = {s: _table(s) for s in (250, 400, 600, 800, 1000, 1300)}


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): ``int(random() * n)`` is exact IEEE arithmetic, so as repeatable as
    ``randrange`` and far cheaper on hot paths."""
    return int(rng.random() * n)


def lognormal_fen(rng: random.Random, median_fen: int, sigma: int) -> int:
    """An amount in fen around ``median_fen``: a log-normal quantile, interpolated to its neighbour."""
    table = LOGNORMAL[sigma]
    i = int(rng.random() * (_QUANTILES - 1))
    lo, hi = table[i], table[i + 1]
    multiplier = lo * 1000 + (hi - lo) * int(rng.random() * 1000)  # in millionths
    return max(1, median_fen * multiplier // 1_000_000)


def round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def yuan(fen: int) -> str:
    """Fen as the feed's yuan decimal string: ``12345.67``, ``-800.00``."""
    if fen >= 0:
        whole, cents = divmod(fen, 100)
        return f"{whole}.{cents:02d}"
    whole, cents = divmod(-fen, 100)
    return f"-{whole}.{cents:02d}"


def pick_weighted(rng: random.Random, items: list, cumulative: list[int]):  # type: ignore[no-untyped-def]
    """One of ``items`` chosen with integer weights given as a running total."""
    from bisect import bisect_right

    return items[bisect_right(cumulative, int(rng.random() * cumulative[-1]))]


def cumulative(weights: list[int]) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


def pct_text(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal, computed in integers: ``12.3%``."""
    if whole == 0:
        return "n/a"
    tenths = (abs(part) * 1000 + abs(whole) // 2) // abs(whole)
    sign = "-" if (part < 0) != (whole < 0) and part != 0 else ""
    return f"{sign}{tenths // 10}.{tenths % 10}%"
