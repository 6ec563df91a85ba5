"""Payments: keyword search equals a brute-force scan, filters combine, pages cover, persons are masked."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import oracle


def every_page(client: TestClient, params: dict[str, Any], limit: int = 37) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(
            "/v1/payments", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            return rows


def _cursor(listing: str, key: list[Any]) -> str:
    import base64

    import orjson

    return base64.urlsafe_b64encode(orjson.dumps({"l": listing, "k": key})).rstrip(b"=").decode()


CRAFTED = _cursor("payments:pay_amt", [1, {"a": 1}])  # a key no column can hold


def keywords(w: oracle.Warehouse) -> list[str]:
    """Keywords of 1, 2, 3 and more characters, taken from each searched field of real payments."""
    p = next(x for x in w.payments if len(x["use_des"]) >= 6 and x["doc_no"])
    project = w.project_name[(p["mof_div_code"], p["pro_code"])]
    unit = w.agency_name[(p["mof_div_code"], p["agency_code"])]
    return [
        p["use_des"][2],  # one character
        p["use_des"][1:3],  # two
        p["use_des"][:4],
        p["payee_acct_name"][:3],
        project[-4:],
        unit[2:5],
        p["doc_no"][:5],
        "折叠床",
        "床",
        "%",  # LIKE wildcards and quotes are plain characters
        "_",
        '"',
        "不可能出现的关键词",
    ]


def test_keyword_search_equals_a_brute_force_scan(client: TestClient, warehouse: oracle.Warehouse) -> None:
    for word in keywords(warehouse):
        expected = oracle.search(warehouse, word)
        got = [r["pay_cert_id"] for r in every_page(client, {"q": word}, limit=500)]  # match order
        assert len(got) == len(set(got)), word
        assert sorted(got) == expected, (word, len(got), len(expected))
        in_order = [
            r["pay_cert_id"] for r in every_page(client, {"q": word, "sort": "pay_cert_id"}, limit=500)
        ]
        assert in_order == expected, word


@pytest.mark.parametrize("region", ["410100000", "410102000"])  # a city (224 regions), a district (15)
@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_keyword_search_with_filters_across_pages(
    client: TestClient, warehouse: oracle.Warehouse, demo_engine: Engine, length: int, region: str
) -> None:
    """In a small scope PostgreSQL reads the documents by their region: a district's region by region,
    merged in match order, a larger subtree's all at once, sorted."""
    word = "办公用品"[:length] if length > 1 else "费"
    expected = oracle.search(warehouse, word, year=2025, root=region)
    rows = every_page(client, {"q": word, "year": 2025, "region": region}, limit=7)
    got = [r["pay_cert_id"] for r in rows]
    assert len(got) == len(set(got))
    assert sorted(got) == expected
    assert all(r["fiscal_year"] == 2025 for r in rows)
    position = {pay_cert_id: n for n, (_, pay_cert_id, _) in enumerate(match_order(demo_engine))}
    assert [position[g] for g in got] == sorted(position[g] for g in got)


def test_filters_combine(client: TestClient, warehouse: oracle.Warehouse) -> None:
    low, high = 100_000, 5_000_000  # fen
    expected = sorted(
        p["pay_cert_id"]
        for p in warehouse.payments
        if p["fiscal_year"] == 2026
        and p["fund_type_code"] == "1"
        and low <= p["pay_amt_fen"] <= high
        and p["set_mode_code"] == "1"
        and "2026-03-01" <= str(p["vou_date"]) <= "2026-05-31"
    )
    got = every_page(
        client,
        {
            "year": 2026,
            "fund_type": "1",
            "min_amount": "1000.00",
            "max_amount": "50000",
            "set_mode": "1",
            "date_from": "2026-03-01",
            "date_to": "2026-05-31",
        },
        limit=500,
    )
    assert [r["pay_cert_id"] for r in got] == expected


@pytest.mark.parametrize("sort", ["-vou_date", "pay_amt", "-pay_amt"])
def test_sorted_pages_cover_every_payment_once(client: TestClient, sort: str) -> None:
    params = {"year": 2025, "region": "410102000", "sort": sort}
    rows = every_page(client, params, limit=50)
    ids = [r["pay_cert_id"] for r in rows]
    assert len(ids) == len(set(ids))
    field = sort.lstrip("-")
    values = [r["vou_date"] if field == "vou_date" else oracle.fen(r["amount"]) for r in rows]
    assert values == sorted(values, reverse=sort.startswith("-"))
    assert len(ids) == len(every_page(client, {"year": 2025, "region": "410102000"}, limit=500))


def test_persons_are_masked(client: TestClient, warehouse: oracle.Warehouse) -> None:
    person = next(p for p in warehouse.payments if p["payee_type"] == "4" and p["iden_no"])
    body = client.get(f"/v1/payments/{person['pay_cert_id']}").json()
    payee = body["payee"]
    assert payee["is_person"] is True
    name = person["payee_acct_name"]
    assert payee["name"] == name[0] + "*" * (len(name) - 1)
    assert payee["iden_no"] == person["iden_no"][:3] + "*" * 11 + person["iden_no"][-4:]
    if person["payee_acct_no"]:
        assert payee["account_no"].endswith(person["payee_acct_no"][-4:])
        assert person["payee_acct_no"] not in payee["account_no"]
    # a person's full name found in a keyword search shows masked in the listing as well
    listed = client.get("/v1/payments", params={"q": name}).json()["rows"]
    assert all(r["payee"]["name"] != name for r in listed if r["payee"]["is_person"])
    # and a person's full name finds nothing through the payee: only the masked form is searchable
    assert person["pay_cert_id"] not in [r["pay_cert_id"] for r in listed] or name in person["use_des"]
    masked = every_page(client, {"q": payee["name"]}, limit=500)
    assert person["pay_cert_id"] in [r["pay_cert_id"] for r in masked]


def test_one_payment_with_its_details_and_indicator(client: TestClient, demo_engine: Engine) -> None:
    from sqlalchemy import text

    with demo_engine.connect() as conn:
        pay_cert_id, n, total = conn.execute(
            text(
                "SELECT pay_cert_id, count(*), sum(pay_amt_fen) FROM pay_detail WHERE NOT is_deleted "
                "GROUP BY pay_cert_id ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
    body = client.get(f"/v1/payments/{pay_cert_id}").json()
    assert body["details_count"] == n
    assert oracle.fen(body["details_sum"]) == total
    assert body["indicator"] is None or body["indicator"]["bgt_id"] == body["bgt_id"]
    details, cursor = [], None
    while True:
        page = client.get(
            f"/v1/payments/{pay_cert_id}/details",
            params={"limit": 40, **({"cursor": cursor} if cursor else {})},
        ).json()
        details += page["rows"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(details) == n
    assert sum(oracle.fen(d["amount"]) for d in details) == total
    assert all("*" in d["name"] for d in details if d["is_person"] and len(d["name"]) > 1)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"min_amount": "12.345"}, "min_amount"),
        ({"min_amount": "abc"}, "min_amount"),
        ({"min_amount": "9", "max_amount": "1"}, "min_amount"),
        ({"date_from": "2025-13-01"}, "date_from"),
        ({"date_from": "2025-05-01", "date_to": "2025-04-01"}, "date_from"),
        ({"q": "a\nb"}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 51}, "q"),
        ({"sort": "amount"}, "sort"),
        ({"exp_func": "20"}, "exp_func"),
        ({"cursor": "!!"}, "cursor"),
        ({"payee_type": "44"}, "payee_type"),
        ({"agency": "x\x00"}, "agency"),
        ({"sort": "pay_amt", "cursor": CRAFTED}, "cursor"),
    ],
)
def test_bad_parameters_are_named(client: TestClient, params: dict[str, Any], parameter: str) -> None:
    r = client.get("/v1/payments", params=params)
    assert r.status_code in (400, 422), r.text
    assert parameter in r.json()["detail"]


def test_unknown_payment_is_not_found(client: TestClient) -> None:
    assert client.get("/v1/payments/NO-SUCH").status_code == 404
    assert client.get("/v1/payments/NO-SUCH/details").status_code == 404


def test_a_walk_that_runs_out_of_time_falls_back_to_collecting(
    client: TestClient, warehouse: oracle.Warehouse, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL, a keyword listing sorted by a column: every 3+ character keyword counts as common and
    its walk gets 1 ms, so pages come from the fallback (the savepoint undoes the walk's settings); the
    result is still exact."""
    if demo_engine.dialect.name != "postgresql":
        pytest.skip("the walk and its time limit exist on PostgreSQL only")
    from api.payments import service

    monkeypatch.setattr(service, "COMMON", 1)
    monkeypatch.setattr(service, "WALK_MS", 1)
    for word in ["发放20", "办公用品", keywords(warehouse)[4]]:
        params = {"q": word, "year": 2025, "sort": "pay_cert_id"}
        got = [r["pay_cert_id"] for r in every_page(client, params, limit=200)]
        assert got == oracle.search(warehouse, word, year=2025), word


def match_order(engine: Engine) -> list[tuple[int, str, str]]:
    """Every keyword document as (match order, pay_cert_id, text), in match order."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, pay_cert_id, doc FROM payment_text ORDER BY id")).all()
    return [(int(i), str(p), str(d)) for i, p, d in rows]


def far_keyword(documents: list[tuple[int, str, str]]) -> str:
    """A 3-character keyword of the last document whose first match lies furthest into match order."""
    best = (-1, "")
    for field in documents[-1][2].split("\n"):
        for start in range(len(field) - 2):
            word = field[start : start + 3]
            first = next(n for n, (_, _, doc) in enumerate(documents) if word in doc)
            best = max(best, (first, word))
    return best[1]


@pytest.mark.parametrize("window", [1, 60])
def test_keyword_pages_past_the_first_window_are_exact_and_in_match_order(
    client: TestClient,
    warehouse: oracle.Warehouse,
    demo_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    window: int,
) -> None:
    """PostgreSQL reads ``WINDOW`` documents in match order, then asks the trigram index for the rest of a
    page in any order and reads the page in order up to the largest match it got (service._by_windows).
    With a window of 1 or 60 documents nearly every page goes past it. Pages cover the brute-force scan
    exactly, once each, in match order, with the year and a region (on the document's own region too, from
    the region's first document); a 2-character keyword, walked, as well."""
    from sqlalchemy import event

    from api.payments import service

    monkeypatch.setattr(service, "WINDOW", window)
    monkeypatch.setattr(service, "NARROW", 0)  # a city is searched like the province, not read first
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(demo_engine, "before_cursor_execute", seen)
    try:
        documents = match_order(demo_engine)
        position = {pay_cert_id: n for n, (_, pay_cert_id, _) in enumerate(documents)}
        far = far_keyword(documents)
        assert min(position[p] for p in oracle.search(warehouse, far)) > len(documents) // 2, far
        for word in [far, far[:2], "办公用品", keywords(warehouse)[3], "不可能出现的关键词"]:
            for params in (
                {"q": word},
                {"q": word, "year": 2025},
                {"q": word, "year": 2025, "region": "410100000"},
            ):
                # a page size of its own: the answer cache keys on the URL
                got = [r["pay_cert_id"] for r in every_page(client, params, limit=11 + window % 7)]
                expected = oracle.search(warehouse, word, year=params.get("year"), root=params.get("region"))
                assert sorted(got) == expected and len(got) == len(set(got)), (word, params)
                order = [position[g] for g in got]
                assert order == sorted(order), (word, params)
    finally:
        event.remove(demo_engine, "before_cursor_execute", seen)
    if demo_engine.dialect.name == "postgresql":  # the trigram index was asked past the window
        assert any("enable_indexscan = off" in s for s in statements)
