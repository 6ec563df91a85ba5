"""Classification codes valid in a fiscal year, from ``schema.reference``.

The catalogue names the 项 it prefers (2050203 初中教育 …); where the reference lacks one in a year, the
nearest valid code of the same 款 or 类 is used instead, so every code written is valid that year.
"""

from __future__ import annotations

from functools import cache

from schema.reference import classifications_for


class Codes:
    def __init__(self, years: tuple[int, ...]) -> None:
        self._sets = {
            (scheme, y): classifications_for(scheme, y)
            for scheme in ("exp_func", "gov_eco", "dep_eco", "income")
            for y in years
        }

    def names(self, scheme: str, year: int) -> dict[str, str]:
        return self._sets[(scheme, year)]

    def valid(self, scheme: str, code: str, year: int) -> str:
        return _resolve(self, scheme, code, year)

    def name(self, scheme: str, code: str, year: int) -> str:
        return self._sets[(scheme, year)].get(code, "")


@cache
def _resolve(codes: Codes, scheme: str, code: str, year: int) -> str:
    known = codes.names(scheme, year)
    if code in known:
        return code
    for prefix_len in (5, 3):
        prefix = code[:prefix_len]
        if len(code) <= prefix_len:
            continue
        same = sorted(c for c in known if c.startswith(prefix) and len(c) == len(code))
        if same:
            return same[0]
        if prefix in known:
            return prefix
    raise ValueError(f"no valid {scheme} code near {code} in {year}")
