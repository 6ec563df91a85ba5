"""GraphQL over the demo province, on SQLite and PostgreSQL: the same figures as REST, one query per level
of nesting whatever its breadth, and guardrails that answer attacks with clear errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from api.graphql.schema import GraphQLSettings
from tests.auth import api_client

PROVINCE = "410000000"
MEASURES = "budget transferIn transferOut paid plan executionRate payments"


@pytest.fixture(scope="module")
def year(client: TestClient) -> int:
    return int(client.get("/v1/summary").json()["scope"]["year"])


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    body = gql(client, query, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def snake(measures: dict[str, Any]) -> dict[str, Any]:
    return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): v for k, v in measures.items()}


def rest(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in connection["edges"]]


# --- the same figures as REST -------------------------------------------------------------------------

NAVIGATION = f"""
query Walk($region: String!, $year: Int!) {{
  region(code: $region, year: $year) {{
    totals {{ {MEASURES} }}
    departments(first: 4, sort: "-paid") {{
      totalCount
      edges {{ node {{ key name totals {{ {MEASURES} }}
        agencies(first: 3, sort: "-paid") {{ totalCount edges {{ node {{ key name totals {{ {MEASURES} }}
          projects(first: 2, sort: "-budget") {{ edges {{ node {{ key totals {{ {MEASURES} }}
            indicators(first: 2, sort: "-paid") {{ edges {{ node {{ bgtId totals {{ {MEASURES} }} }} }} }}
          }} }} }}
          payments(first: 3) {{ totalCount edges {{ node {{ payCertId amount vouDate payee {{ name }} }} }} }}
        }} }} }}
      }} }}
    }}
  }}
}}
"""


def test_drill_paths_give_the_figures_of_rest(client: TestClient, year: int) -> None:
    """A walk region → departments → units → projects → indicators, and each unit's latest payments,
    against the REST drill-down a user would click through, figure by figure."""
    cities = [r["code"] for r in rest(client, "/v1/regions", parent=PROVINCE, limit=2)["rows"]]
    for region in [PROVINCE, *cities]:
        walk = data(client, NAVIGATION, region=region, year=year)["region"]
        whole = rest(client, "/v1/summary", region=region, year=year)["total"]["measures"]
        assert snake(walk["totals"]) == whole
        depts = rest(  # a region's departments are its own level's (本级)
            client,
            "/v1/drilldown",
            region=region,
            own_level="true",
            year=year,
            by="department",
            sort="-paid",
            limit=4,
        )
        assert walk["departments"]["totalCount"] == depts["row_count"]
        got = nodes(walk["departments"])
        assert [(d["key"], d["name"], snake(d["totals"])) for d in got] == [
            (r["key"], r["name"], r["measures"]) for r in depts["rows"]
        ]
        for dept in got:
            units = rest(
                client,
                "/v1/drilldown",
                region=region,
                year=year,
                department=dept["key"],
                by="agency",
                sort="-paid",
                limit=3,
            )
            assert dept["agencies"]["totalCount"] == units["row_count"]
            assert [(u["key"], snake(u["totals"])) for u in nodes(dept["agencies"])] == [
                (r["key"], r["measures"]) for r in units["rows"]
            ]
            for unit in nodes(dept["agencies"]):
                projects = rest(
                    client,
                    "/v1/drilldown",
                    region=region,
                    year=year,
                    agency=unit["key"],
                    by="project",
                    sort="-budget",
                    limit=2,
                )
                assert [(p["key"], snake(p["totals"])) for p in nodes(unit["projects"])] == [
                    (r["key"], r["measures"]) for r in projects["rows"]
                ]
                for project in nodes(unit["projects"]):
                    inds = rest(
                        client,
                        "/v1/drilldown",
                        region=region,
                        year=year,
                        project=project["key"],
                        by="indicator",
                        sort="-paid",
                        limit=2,
                    )
                    assert [(i["bgtId"], snake(i["totals"])) for i in nodes(project["indicators"])] == [
                        (r["key"], r["measures"]) for r in inds["rows"]
                    ]
                pays = rest(client, "/v1/payments", year=year, agency=unit["key"], sort="-vou_date", limit=3)
                assert [
                    (p["payCertId"], p["amount"], p["vouDate"], p["payee"]["name"])
                    for p in nodes(unit["payments"])
                ] == [
                    (p["pay_cert_id"], p["amount"], p["vou_date"], p["payee"]["name"]) for p in pays["rows"]
                ]
                assert unit["payments"]["totalCount"] == snake(unit["totals"])["payments"]


DRILL = f"""
query D($by: Dimension!, $region: String, $year: Int, $filter: DrillFilter, $after: String, $level: Int) {{
  drilldown(by: $by, region: $region, year: $year, filter: $filter, first: 7, after: $after, level: $level) {{
    scope {{ year region }}
    total {{ {MEASURES} }}
    unattributed {{ {MEASURES} }}
    rows {{ totalCount pageInfo {{ hasNextPage endCursor }}
      edges {{ cursor node {{ key name ownLevel measures {{ {MEASURES} }} }} }} }}
  }}
}}
"""


def test_departments_of_the_whole_subtree_on_request(client: TestClient, year: int) -> None:
    g = data(
        client,
        f'query($y: Int!) {{ region(code: "{PROVINCE}", year: $y) {{ departments(ownLevel: false, first: 3) '
        f"{{ totalCount edges {{ node {{ key totals {{ {MEASURES} }} }} }} }} }} }}",
        y=year,
    )["region"]["departments"]
    r = rest(client, "/v1/drilldown", region=PROVINCE, year=year, by="department", sort="-paid", limit=3)
    assert g["totalCount"] == r["row_count"]
    assert [(d["key"], snake(d["totals"])) for d in nodes(g)] == [
        (x["key"], x["measures"]) for x in r["rows"]
    ]


@pytest.mark.parametrize(
    "by", ["region", "fund_type", "department", "spe_fund", "exp_func", "gov_eco", "month", "payee"]
)
def test_the_drilldown_field_pages_like_rest(client: TestClient, year: int, by: str) -> None:
    after = None
    cursor = None
    for _ in range(2):
        d = data(client, DRILL, by=by, region=PROVINCE, year=year, after=after)["drilldown"]
        params = {
            "region": PROVINCE,
            "year": year,
            "by": by,
            "limit": 7,
            **({"cursor": cursor} if cursor else {}),
        }
        r = rest(client, "/v1/drilldown", **params)
        assert snake(d["total"]) == r["total"] and snake(d["unattributed"]) == r["unattributed"]
        rows = nodes(d["rows"])
        assert [(x["key"], x["name"], x["ownLevel"], snake(x["measures"])) for x in rows] == [
            (x["key"], x["name"], x["own_level"], x["measures"]) for x in r["rows"]
        ]
        assert d["rows"]["totalCount"] == r["row_count"]
        assert d["rows"]["pageInfo"]["endCursor"] == (d["rows"]["edges"][-1]["cursor"] if rows else None)
        assert (d["rows"]["pageInfo"]["endCursor"] if d["rows"]["pageInfo"]["hasNextPage"] else None) == r[
            "next_cursor"
        ]
        if not r["next_cursor"]:
            break
        after = cursor = r["next_cursor"]


def test_summary_and_filters_match_rest(client: TestClient, year: int) -> None:
    s = data(
        client,
        f"query($y: Int) {{ summary(year: $y) {{ scope {{ region }} total {{ measures {{ {MEASURES} }} }}"
        f" budgets {{ fundType measures {{ {MEASURES} }} timeProgress }}"
        " execution { fundType side executed }"
        " sources { source rows } } }",
        y=year,
    )["summary"]
    r = rest(client, "/v1/summary", year=year)
    assert s["scope"]["region"] == r["scope"]["region"]
    assert snake(s["total"]["measures"]) == r["total"]["measures"]
    assert [(b["fundType"], snake(b["measures"]), b["timeProgress"]) for b in s["budgets"]] == [
        (b["fund_type"], b["measures"], b["time_progress"]) for b in r["budgets"]
    ]
    assert [(e["fundType"], e["side"], e["executed"]) for e in s["execution"]] == [
        (e["fund_type"], e["side"], e["executed"]) for e in r["execution"]
    ]
    fund = rest(client, "/v1/drilldown", year=year, by="spe_fund", sort="-paid", limit=1)["rows"][0]["key"]
    d = data(client, DRILL, by="exp_func", year=year, filter={"speFund": fund, "fundType": "1"}, level=2)
    r = rest(
        client, "/v1/drilldown", year=year, by="exp_func", level=2, spe_fund=fund, fund_type="1", limit=7
    )
    assert snake(d["drilldown"]["total"]) == r["total"]
    assert [snake(x["measures"]) for x in nodes(d["drilldown"]["rows"])] == [x["measures"] for x in r["rows"]]


def test_payments_search_and_pages_match_rest(client: TestClient, year: int) -> None:
    query = """query($f: PaymentFilter, $after: String) { payments(filter: $f, first: 5, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { payCertId amount useDes } } } }"""
    for keyword in ("公司", "办", "有限公司"):
        after = cursor = None
        seen: list[str] = []
        for _ in range(3):
            g = data(client, query, f={"q": keyword, "year": year, "minAmount": "100.00"}, after=after)[
                "payments"
            ]
            params = {"q": keyword, "year": year, "min_amount": "100.00", "limit": 5}
            r = rest(client, "/v1/payments", **params, **({"cursor": cursor} if cursor else {}))
            assert [(p["payCertId"], p["amount"]) for p in nodes(g)] == [
                (p["pay_cert_id"], p["amount"]) for p in r["rows"]
            ]
            seen += [p["payCertId"] for p in nodes(g)]
            if not r["next_cursor"]:
                break
            assert g["pageInfo"]["endCursor"] == r["next_cursor"]
            after = cursor = r["next_cursor"]
        assert len(seen) == len(set(seen))
        assert g["totalCount"] >= len(seen)


def test_one_object_fields_match_rest(client: TestClient, year: int) -> None:
    fund = rest(client, "/v1/special-funds", limit=1)["rows"][0]["code"]
    ind = rest(client, "/v1/drilldown", year=year, by="indicator", spe_fund=fund, sort="-budget", limit=1)
    bgt_id = ind["rows"][0]["key"]
    g = data(
        client,
        """query($id: String!, $fund: String!, $y: Int) {
          indicator(bgtId: $id) { bgtId record { docNo amount paid undistributed childrenCount parentBgtId
              adjustments { amount } plan { month amount } }
            upstream { docNo amount }
            downstream { totals { rootAmount assignedLeaves undistributed paid nodes }
              tree { bgtId children { bgtId } } } }
          specialFund(code: $fund) { code name flow(year: $y) { year levels { level paid undistributed }
            allocations { totalCount edges { node { region received assigned paid
              indicators(first: 3) { edges { node { bgtId totals { budget paid } } } } } } } } }
        }""",
        id=bgt_id,
        fund=fund,
        y=year,
    )
    one = rest(client, f"/v1/indicators/{bgt_id}")
    record = g["indicator"]["record"]
    for field in ("amount", "paid", "undistributed"):
        assert record[field] == one[field]
    assert record["childrenCount"] == one["children_count"]
    assert [a["amount"] for a in record["adjustments"]] == [a["amount"] for a in one["adjustments"]]
    trace = rest(client, f"/v1/indicators/{bgt_id}/trace")
    assert snake(g["indicator"]["downstream"]["totals"]) == {
        k: trace["totals"][k] for k in ("root_amount", "assigned_leaves", "undistributed", "paid", "nodes")
    }
    assert [s["docNo"] for s in g["indicator"]["upstream"]] == [s["doc_no"] for s in trace["upstream"]]
    flow = rest(client, f"/v1/special-funds/{fund}/flow", year=year, limit=100)
    allocations = nodes(g["specialFund"]["flow"]["allocations"])
    assert [(a["region"], a["received"], a["assigned"], a["paid"]) for a in allocations] == [
        (r["region"], r["received"], r["assigned"], r["paid"]) for r in flow["rows"]
    ]
    for a in allocations[:3]:
        own = rest(
            client,
            "/v1/drilldown",
            year=year,
            region=a["region"],
            own_level="true",
            spe_fund=fund,
            by="indicator",
            sort="-paid",
            limit=3,
        )
        assert [(i["bgtId"], snake(i["totals"])) for i in nodes(a["indicators"])] == [
            (r["key"], {"budget": r["measures"]["budget"], "paid": r["measures"]["paid"]})
            for r in own["rows"]
        ]


def test_payees_match_rest(client: TestClient) -> None:
    page = rest(client, "/v1/payees", limit=3)["rows"]
    g = data(
        client,
        "{ payees(first: 3) { edges { node { payeeId name"
        " received { vouchers voucherAmount detailAmount } } } } }",
    )
    assert [(p["payeeId"], p["name"], p["received"]["voucherAmount"]) for p in nodes(g["payees"])] == [
        (p["payee_id"], p["name"], p["voucher_amount"]) for p in page
    ]
    one = rest(client, f"/v1/payees/{page[0]['payee_id']}")
    got = data(
        client,
        "query($id: String!) { payee(payeeId: $id) { byYear { key voucherAmount } payments(first: 2) "
        "{ edges { node { payCertId } } } } }",
        id=page[0]["payee_id"],
    )["payee"]
    assert [(y["key"], y["voucherAmount"]) for y in got["byYear"]] == [
        (y["key"], y["voucher_amount"]) for y in one["by_year"]
    ]


def test_absent_objects_are_null(client: TestClient) -> None:
    g = data(
        client,
        '{ region(code: "999999999") { code } indicator(bgtId: "nope") { bgtId } payment(payCertId: "nope")'
        ' { payCertId } payee(payeeId: "nope") { payeeId } specialFund(code: "nope") { code }'
        ' agency(key: "410000000:nope") { key } project(key: "410000000:nope") { key } }',
    )
    assert all(v is None for v in g.values())


# --- one query per level ------------------------------------------------------------------------------

FIVE_LEVELS = """
query Deep($n: Int!, $year: Int!) {
  region(code: "410000000", year: $year) {
    departments(first: $n) { edges { node {
      agencies(first: $n) { edges { node {
        projects(first: $n) { edges { node {
          indicators(first: $n) { edges { node {
            payments(first: $n) { edges { node { payCertId amount
              payee { resolved { received { vouchers } } } } } }
          } } }
        } } }
      } } }
    } } }
  }
}
"""


def _count_queries(engine: Engine, client: TestClient, n: int, year: int) -> tuple[int, dict[str, Any]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = data(client, FIVE_LEVELS, n=n, year=year)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # the transaction's own BEGIN (SQLite) and SET LOCAL statement_timeout (PostgreSQL) aside
    # and the audit log's entry for the request (its writer's own statements)
    reads = [
        s
        for s in statements
        if not s.lstrip().upper().startswith(("SET ", "BEGIN"))
        and "audit_" not in s
        and "pg_advisory" not in s
    ]
    return len(reads), result


def _breadth(result: dict[str, Any]) -> int:
    payments = 0
    for d in nodes(result["region"]["departments"]):
        for a in nodes(d["agencies"]):
            for p in nodes(a["projects"]):
                for i in nodes(p["indicators"]):
                    payments += len(nodes(i["payments"]))
    return payments


def test_a_five_level_query_costs_the_same_queries_whatever_its_breadth(
    client: TestClient, demo_engine: Engine, year: int
) -> None:
    narrow, narrow_result = _count_queries(demo_engine, client, 1, year)
    wide, wide_result = _count_queries(demo_engine, client, 4, year)
    assert _breadth(narrow_result) >= 1
    assert _breadth(wide_result) > 4 * _breadth(narrow_result)  # the wide one really is wider
    assert wide == narrow
    # region, departments, units, projects and indicators (answers and their names), payments (the pages,
    # then their rows), resolved payees: 12 levels' worth of statements
    assert wide <= 12


# --- guardrails ---------------------------------------------------------------------------------------


def _error(client: TestClient, query: str, **variables: Any) -> str:
    body = gql(client, query, **variables)
    assert body.get("errors"), body
    return " ".join(e["message"] for e in body["errors"])


def test_depth_aliases_tokens_and_cost_are_limited(client: TestClient) -> None:
    deep = '{ region(code: "410000000") { ' + "parent { " * 30 + "code" + " }" * 30 + " } }"
    assert "exceeds maximum operation depth" in _error(client, deep)
    aliases = "{ " + " ".join(f"a{i}: sources {{ source }}" for i in range(40)) + " }"
    assert "aliases" in _error(client, aliases).lower()
    tokens = "{ " + "sources { source } " * 3000 + "}"
    assert "token" in _error(client, tokens).lower()
    costly = """query($n: Int!) { region(code: "410000000") { departments(first: $n) { edges { node {
        agencies(first: $n) { edges { node {
          payments(first: $n) { edges { node { payCertId } } } } } } } } } } }"""
    message = _error(client, costly, n=500)
    assert re.search(r"query cost \d+ exceeds the budget of 50000", message), message
    assert data(client, costly, n=2)["region"] is not None  # the same document with small pages runs


def test_circular_fragments_are_refused_without_hanging(client: TestClient) -> None:
    query = """
    fragment A on Region { code parent { ...B } }
    fragment B on Region { name parent { ...A } }
    { region(code: "410000000") { ...A } }"""
    assert "Cannot spread fragment" in _error(client, query)


def test_batching_and_get_are_off(client: TestClient) -> None:
    r = client.post(
        "/graphql", json=[{"query": "{ sources { source } }"}, {"query": "{ sources { source } }"}]
    )
    assert r.status_code == 400 and "Batching is not enabled" in r.text
    r = client.get("/graphql", params={"query": "{ sources { source } }"})
    assert r.status_code == 400 and "not allowed when using GET" in r.text


def test_malformed_requests_get_clear_errors(client: TestClient) -> None:
    r = client.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.text
    r = client.post("/graphql", json={"query": 5})
    assert r.status_code == 400 and "must be a string" in r.text
    assert "Syntax Error" in _error(client, "{ sources { source }")
    assert "Cannot query field" in _error(client, "{ sources { password } }")


def test_batching_can_be_capped(demo_engine: Engine) -> None:
    with api_client(demo_engine, graphql=GraphQLSettings(max_batch=2)) as c:
        ok = c.post("/graphql", json=[{"query": "{ sources { source } }"}] * 2)
        assert ok.status_code == 200 and len(ok.json()) == 2
        refused = c.post("/graphql", json=[{"query": "{ sources { source } }"}] * 3)
        assert refused.status_code == 400 and "Too many operations" in refused.text


def test_introspection_and_graphiql_only_when_enabled(client: TestClient, demo_engine: Engine) -> None:
    assert "introspection" in _error(client, "{ __schema { queryType { name } } }").lower()
    assert client.get("/graphql", headers={"accept": "text/html"}).status_code in (404, 405)
    with api_client(demo_engine, graphql=GraphQLSettings(introspection=True)) as c:
        assert data(c, "{ __schema { queryType { name } } }")["__schema"]["queryType"]["name"] == "Query"
        page = c.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_bad_arguments_name_what_is_wrong(client: TestClient) -> None:
    assert "code: a 9-digit" in _error(client, '{ region(code: "41") { code } }')
    assert "first: rows per page" in _error(client, "{ regions(first: 0) { totalCount } }")
    assert "sort:" in _error(client, '{ drilldown(by: department, sort: "bogus") { total { paid } } }')
    assert "Money" in _error(client, "{ payments(filter: {minAmount: 12}) { totalCount } }")
    assert "Money" in _error(
        client, "query($m: Money) { payments(filter: {minAmount: $m}) { totalCount } }", m=1.5
    )
    assert "cursor" in _error(client, '{ payments(after: "garbage") { totalCount } }')
    assert "q:" in _error(client, "query($q: String) { payments(filter: {q: $q}) { totalCount } }", q="a\nb")
    assert "Dimension" in _error(client, "{ drilldown(by: nonsense) { total { paid } } }")


def test_unexpected_errors_are_masked(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.graphql.context

    def broken(*args: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.graphql.context, "children_of", broken)
    r = client.post(
        "/graphql", json={"query": '{ region(code: "410000000") { code children { totalCount } } }'}
    )
    assert r.status_code == 200
    assert "secret" not in r.text and "Unexpected error." in r.text
