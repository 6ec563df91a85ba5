"""Valid identifiers: unified social credit codes (统一社会信用代码), ID numbers (居民身份证号), accounts.

The check characters follow GB 32100-2015 (credit code), GB 11714 (its organisation-code part) and
GB 11643 (ID number), so python-stdnum's ``cn.uscc`` and ``cn.ric`` accept every number made here.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from stdnum.cn import ric as _ric

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # letters the credit code allows


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def org_code(n: int, *, letters: bool) -> str:
    """A 9-character organisation code (8 characters + check) unique for ``n``.

    Enterprises registered since 2015 carry codes like ``MA4XXXXX``; agencies numeric ones.
    """
    if letters:
        body, x = "", n
        for _ in range(6):
            x, r = divmod(x, len(_ORG_BODY_ALPHABET))
            body = _ORG_BODY_ALPHABET[r] + body
        body = "MA" + body
    else:
        body = f"{(n * 7919 + 10_000_019) % 100_000_000:08d}"
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    check = "X" if c == 10 else "0" if c == 11 else str(c)
    if check not in _USCC_ALPHABET:  # never: digits and X are all allowed
        raise ValueError(check)
    return body + check


def uscc(authority: str, kind: str, region6: str, org: str) -> str:
    """An 18-character credit code: authority (9 工商, 1 机构编制, 5 民政), kind, region, org code, check."""
    body = f"{authority}{kind}{region6}{org}"
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total) % 31]


def ric(code6: str, birth: date, seq3: int) -> str:
    body = f"{code6}{birth:%Y%m%d}{seq3:03d}"
    return body + _ric.calc_check_digit(body + "0")


@cache
def _code_years(code6: str) -> tuple[tuple[int, int], ...] | None:
    """Years in which stdnum's division history knows ``code6`` as a county (None: never)."""
    from stdnum import numdb

    info = {k: v for _, props in numdb.get("cn/loc").info(code6) for k, v in props.items()}
    if "county" not in info:
        return None
    spans = []
    for county in info["county"].split(","):
        if not county.startswith("["):
            return ((0, 9999),)
        start, end = county[1:].split("]")[0].split("-")
        spans.append((int(start) if start else 0, int(end) if end else 9999))
    return tuple(spans)


@cache
def birthplace_code(county6: str, year: int) -> str:
    """A birthplace code valid in stdnum's division history for ``year``, as close to the county as can be.

    Many of today's county codes were created after 1983; people born earlier carry the code of the
    prefecture (地区) of their time, so the county, its city and then Henan's historical prefectures are
    tried in turn (the same lookup ``stdnum.cn.ric.validate`` makes).
    """
    city = county6[:4] + "00"
    for code in (county6, city, *_historical_henan()):
        spans = _code_years(code)
        if spans and any(start <= year <= end for start, end in spans):
            return code
    raise ValueError(f"no Henan birthplace code valid in {year}")


@cache
def _historical_henan() -> tuple[str, ...]:
    return tuple(f"41{p:02d}{c:02d}" for p in range(21, 30) for c in (21, 22, 23, 24)) + tuple(
        f"41{p:02d}00" for p in range(1, 10)
    )


_BIRTH_BASE = date(1946, 1, 1)
_BIRTH_SPAN = 21_915  # 60 years of days; 7919 is prime to it, so k ↦ k·7919 mod span is a bijection


def person_id(county_index: int, county6: str, k: int, female: bool) -> tuple[str, date]:
    """The ID number of person ``k`` of a county, unique across counties and persons.

    (county_index, k) determines (birth date, sequence) one to one, so two persons never share a number
    even when their counties fall back to the same historical birthplace code.
    """
    block, offset = divmod(k, _BIRTH_SPAN)
    if block > 1 or county_index > 240:
        raise ValueError("person index out of range")
    birth = _BIRTH_BASE + timedelta(days=(offset * 7919) % _BIRTH_SPAN)
    seq = ((county_index * 2 + block) * 2) + (0 if female else 1)  # odd = male, even = female
    return ric(birthplace_code(county6, birth.year), birth, seq), birth


BANK_PREFIX = {
    "中国工商银行": "1702",
    "中国农业银行": "1605",
    "中国银行": "2460",
    "中国建设银行": "4105",
    "中国邮政储蓄银行": "9410",
    "河南农村商业银行": "7106",
    "中原银行": "4110",
}
CARD_PREFIX = {"中国农业银行": "622848", "中国邮政储蓄银行": "621799", "河南农村商业银行": "623059"}


def account_no(bank: str, region6: str, serial: int) -> str:
    """A 19-digit corporate account number, unique for (bank, region, serial)."""
    return f"{BANK_PREFIX[bank]}{region6}{serial:09d}"


def card_no(bank: str, county_index: int, k: int) -> str:
    """A 19-digit debit card number (一卡通) of person ``k`` of a county, with a Luhn check digit."""
    body = f"{CARD_PREFIX[bank]}{county_index:03d}{k:06d}{(k * 37 + county_index) % 1000:03d}"
    digits = [int(c) for c in body][::-1]
    total = sum(d if i % 2 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return body + str((10 - total % 10) % 10)
