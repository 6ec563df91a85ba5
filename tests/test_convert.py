"""Feed values: amounts are exact to the fen both ways, dates and flags take every accepted form."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.ingest.convert import (
    BadValue,
    format_amount,
    parse_amount,
    parse_datetime,
    parse_flag,
    stored_date,
    stored_datetime,
)


@given(st.integers(min_value=-(10**17) + 1, max_value=10**17 - 1))
def test_an_amount_survives_formatting_and_parsing_to_the_fen(fen: int) -> None:
    text = format_amount(fen)
    assert parse_amount(text) == fen
    whole, _, frac = text.lstrip("-").partition(".")
    assert len(frac) == 2 and whole.isdigit()


@pytest.mark.parametrize(
    "text,fen",
    [
        ("12345.67", 1234567),
        ("-800.00", -80000),
        ("5", 500),
        ("0.5", 50),
        ("-0.05", -5),
        ("0000000000000001.10", 110),
    ],
)
def test_amounts_in_yuan_become_fen(text: str, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize("text", ["12.345", "1.", ".5", "-", "+1", "1e3", "１２", "1,000.00", "NaN", " 1"])
def test_anything_else_is_not_an_amount(text: str) -> None:
    with pytest.raises(BadValue):
        parse_amount(text)


@pytest.mark.parametrize("text", ["2025-03-04", "20250304", "2025/03/04"])
def test_the_three_date_forms_mean_the_same_day(text: str) -> None:
    assert stored_date(text) == date(2025, 3, 4).isoformat()


@pytest.mark.parametrize("text", ["2025-02-30", "2025-3-4", "04/03/2025", "2025-03-04T00:00:00"])
def test_impossible_or_foreign_dates_are_refused(text: str) -> None:
    with pytest.raises(BadValue):
        stored_date(text)


def test_a_datetime_without_offset_is_shanghai_time() -> None:
    assert stored_datetime("2025-03-04T10:00:00") == "2025-03-04 02:00:00.000000"
    assert stored_datetime("2025-03-04T10:00:00+08:00") == stored_datetime("2025-03-04T02:00:00Z")


@pytest.mark.parametrize(
    "text,value",
    [
        ("1", True),
        ("0", False),
        ("Y", True),
        ("n", False),
        ("是", True),
        ("否", False),
        ("TRUE", True),
        ("false", False),
    ],
)
def test_flags(text: str, value: bool) -> None:
    assert parse_flag(text) is value


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"]
)
def test_a_datetime_that_leaves_the_calendar_in_utc_is_refused(text: str) -> None:
    with pytest.raises(BadValue):
        parse_datetime(text)


def test_a_datetime_of_a_three_digit_year_keeps_four_digits() -> None:
    assert stored_datetime("0999-05-01T08:00:00+08:00") == "0999-05-01 00:00:00.000000"
    assert stored_datetime("2025-03-04T10:00:00") == "2025-03-04 02:00:00.000000"
