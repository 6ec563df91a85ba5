"""Summaries and the keyword index follow every load: a changed, deleted or renamed record shows at once."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from connectors.ingest.loader import load_batch
from tests.auth import api_client
from tests.factories import ZHENGZHOU, agency, indicator, payment, write_table


def batch(folder: Path, payments: list[dict], project_name: str = "初中教学楼维修") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_table(
        folder,
        "agency",
        [agency("001", "郑州市教育局"), agency("001001", "郑州市第一初级中学", dept="001")],
    )
    write_table(
        folder,
        "project",
        [
            {
                "pro_code": "P1",
                "pro_name": project_name,
                "mof_div_code": ZHENGZHOU,
                "agency_code": "001001",
                "update_time": "2025-01-02T09:00:00"
                if project_name == "初中教学楼维修"
                else "2025-06-01T09:00:00",
            }
        ],
    )
    write_table(folder, "ba_bgt_info", [indicator("B1", "1000000.00", pro_code="P1")])
    write_table(folder, "pay_voucher", payments)
    return folder


def drill(client: TestClient, **params: str) -> dict:
    r = client.get("/v1/drilldown", params={"year": 2025, "region": ZHENGZHOU, **params})
    assert r.status_code == 200, r.text
    return r.json()


def search(client: TestClient, q: str) -> list[str]:
    return sorted(r["pay_cert_id"] for r in client.get("/v1/payments", params={"q": q}).json()["rows"])


def test_summaries_and_search_follow_each_load(engine: Engine, tmp_path: Path) -> None:
    client = api_client(engine)
    first = [
        payment("P1", "100.00", pro_code="P1"),
        payment("P2", "250.50", pro_code="P1", use_des="购置折叠床"),
    ]
    load_batch(engine, batch(tmp_path / "1", first))
    body = drill(client, by="agency")
    assert body["total"]["paid"] == "350.50" and body["total"]["budget"] == "1000000.00"
    assert body["rows"][0]["key"] == f"{ZHENGZHOU}:001001"
    assert search(client, "折叠床") == ["P2"]
    assert search(client, "教学楼") == ["P1", "P2"]  # through the project's name

    # P1 grows, P2 is deleted, the project is renamed, a new payment arrives
    second = [
        payment("P1", "120.00", pro_code="P1", update_time="2025-07-01T09:00:00"),
        payment(
            "P2",
            "250.50",
            pro_code="P1",
            use_des="购置折叠床",
            is_deleted="1",
            update_time="2025-07-01T09:00:00",
        ),
        payment("P3", "9.99", pro_code="P1", use_des="购置书架", vou_date="2025-08-01"),
    ]
    load_batch(engine, batch(tmp_path / "2", second, project_name="初中实验楼维修"))
    body = drill(client, by="month")
    assert body["total"]["paid"] == "129.99"
    assert {r["key"]: r["measures"]["paid"] for r in body["rows"]} == {
        "01": "0.00",
        "03": "120.00",
        "08": "9.99",
    }
    assert search(client, "折叠床") == []
    assert search(client, "教学楼") == []
    assert search(client, "实验楼") == ["P1", "P3"]
    payee = client.get("/v1/payees", params={"q": "河南中原建设"}).json()["rows"][0]
    assert payee["vouchers"] == 2 and payee["voucher_amount"] == "129.99"
    summary = client.get("/v1/summary", params={"year": 2025, "region": ZHENGZHOU}).json()
    assert summary["total"]["measures"]["paid"] == "129.99"
    assert summary["data_as_of"] == "2025-08-01"


def test_answers_are_reused_until_the_next_load(engine: Engine, tmp_path: Path) -> None:
    client = api_client(engine)
    load_batch(engine, batch(tmp_path / "1", [payment("P1", "100.00", pro_code="P1")]))
    url = f"/v1/drilldown?year=2025&region={ZHENGZHOU}&by=agency"
    first, second = client.get(url), client.get(url)
    assert "x-cache" not in first.headers and second.headers["x-cache"] == "hit"
    assert first.content == second.content
    assert "x-cache" not in client.get("/v1/drilldown?by=nonsense").headers  # errors are never kept
    assert "x-cache" not in client.get("/v1/drilldown?by=nonsense").headers
    load_batch(engine, batch(tmp_path / "2", [payment("P1", "100.00", pro_code="P1"), payment("P9", "1.00")]))
    third = client.get(url)
    assert "x-cache" not in third.headers
    assert third.json()["total"]["paid"] == "101.00"


def test_db_refresh_rebuilds_the_same_derived_tables(engine: Engine, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from sqlalchemy import text

    load_batch(engine, batch(tmp_path / "1", [payment("P1", "100.00", pro_code="P1"), payment("P2", "2.50")]))
    queries = {
        "rollup": "SELECT dim, dim_key, mof_div_code, paid_fen, budget_fen FROM rollup ORDER BY 1, 2, 3",
        "scope": "SELECT dim, dim_key, scope_code, paid_fen, transfer_in_fen FROM scope_rollup",
        "text": "SELECT pay_cert_id, doc FROM payment_text ORDER BY 1",
        "payees": "SELECT payee_key, mof_div_code, voucher_fen FROM payee_region ORDER BY 1, 2",
    }

    def snapshot() -> dict[str, list[tuple]]:
        with engine.connect() as conn:
            return {
                k: sorted((tuple(r) for r in conn.execute(text(q))), key=repr) for k, q in queries.items()
            }

    before = snapshot()
    with engine.begin() as conn:  # damage them: refresh must bring them back
        conn.execute(text("DELETE FROM rollup"))
        conn.execute(text("UPDATE payee_region SET voucher_fen = 0"))
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    run = subprocess.run(
        [sys.executable, "-m", "cli", "db", "refresh"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "rebuilt summaries" in run.stdout
    assert snapshot() == before and before["rollup"] and before["text"]
