"""The rule engine itself: configuration, per-region parameters, the whitelist, reruns that never duplicate,
warnings cleared when their condition goes, incremental runs, the working-day calendar, and monitoring
after every load."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from monitor.calendar import calendar_rows
from monitor.config import ConfigError, load_config, parse_config
from monitor.rules import BY_CODE, RULES
from monitor.runner import run_rules
from monitor.whitelist import WhitelistError, add_entry, end_entry
from schema.monitor import MonitorRun, Warning, WarningObject, WorkCalendar
from tests.factories import JINSHUI, ZHENGZHOU, agency, indicator, payment
from tests.monitor_kit import load, objects, run, warned, warnings

CASH = {"set_mode_code": "2"}


def test_the_catalogue_holds_every_rule_of_the_domain_with_its_declaration() -> None:
    assert len(RULES) >= 20
    assert len({r.code for r in RULES}) == len(RULES) and len({r.key for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.name and r.title and r.basis and r.fires_when and r.message, r.code
        values = {p.name: p.default for p in r.params}
        r.fires_when.format_map({k: v for k, v in values.items()})  # names only its own parameters


def test_config_overrides_levels_params_and_regions(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(
        """
[rules.large_cash]
level = "red"
params = { single_limit_yuan = 30000 }
[rules.large_cash.region.410100000]
single_limit_yuan = 20000
[rules.PRG-01]
enabled = false
""",
        encoding="utf-8",
    )
    configs = load_config(RULES, path)
    cash = configs["USE-01"]
    assert cash.effective_level == "red" and cash.values()["single_limit_yuan"] == 30000
    assert cash.values(cash.by_region["410100000"])["single_limit_yuan"] == 20000
    assert not configs["PRG-01"].enabled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules.nope]\nenabled = false", "no such rule"),
        ("[rules.USE-01]\nparams = { single_limit_yuan = 'many' }", "whole number"),
        ("[rules.USE-01]\nparams = { limit = 1 }", "no parameter"),
        ("[rules.USE-01]\nlevel = 'purple'", "level must be"),
        ("[rules.USE-01.region.4101]\nsingle_limit_yuan = 1", "9-digit"),
        ("[rules.USE-01]\ncolour = 1", "unknown keys"),
    ],
)
def test_a_bad_configuration_is_refused_naming_what_is_wrong(text: str, message: str) -> None:
    import tomllib

    with pytest.raises(ConfigError, match=message):
        parse_config(tomllib.loads(text), RULES)


def test_working_days_follow_the_chinese_calendar_with_swapped_days() -> None:
    days = {r["day"]: r for r in calendar_rows(date(2025, 1, 20), date(2025, 2, 10))}
    assert days[date(2025, 1, 26)]["is_workday"]  # Sunday worked for the Spring Festival
    assert not days[date(2025, 1, 28)]["is_workday"]  # 除夕 holiday (a Tuesday)
    assert days[date(2025, 2, 8)]["is_workday"]  # Saturday worked
    assert not days[date(2025, 2, 9)]["is_workday"]
    lag = days[date(2025, 2, 10)]["workday_no"] - days[date(2025, 1, 24)]["workday_no"]
    assert lag == 7  # 26, 27 January; 5, 6, 7, 8 (Saturday) and 10 February
    worked = [d for d, r in days.items() if date(2025, 1, 24) < d <= date(2025, 2, 10) and r["is_workday"]]
    assert lag == len(worked)


def test_a_rerun_never_duplicates_and_keeps_the_lifecycle(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[payment("P1", "60000.00", **CASH)],
    )
    assert warned(engine, "USE-01") == {"P1"}
    with engine.begin() as conn:
        conn.execute(
            update(Warning)
            .where(Warning.rule_code == "USE-01")
            .values(status="rectifying", verdict="violation")
        )
    second = run(engine, "USE-01")
    assert (second.raised, second.cleared, second.findings) == (0, 0, 1)
    [w] = warnings(engine, "USE-01")
    assert w["status"] == "rectifying" and w["message"] == "one cash payment above 50000 yuan: 60000.00 yuan"
    with engine.connect() as conn:
        cash = select(Warning.id).where(Warning.rule_code == "USE-01")
        assert conn.execute(select(func.count()).select_from(cash.subquery())).scalar_one() == 1
        links = select(WarningObject.object_id).where(WarningObject.warning_id.in_(cash))
        assert conn.execute(select(func.count()).select_from(links.subquery())).scalar_one() == 1


def test_a_warning_whose_condition_goes_is_cleared_and_comes_back(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[payment("P1", "60000.00", **CASH)],
    )
    assert warned(engine, "USE-01") == {"P1"}
    load(
        engine,
        tmp_path,
        pay_voucher=[payment("P1", "60000.00", **CASH, is_deleted="1", update_time="2025-03-05T10:00:00")],
    )
    assert warned(engine, "USE-01") == set()
    [w] = _all(engine)
    assert w.cleared_at is not None
    load(engine, tmp_path, pay_voucher=[payment("P1", "60000.00", **CASH, update_time="2025-03-06T10:00:00")])
    assert warned(engine, "USE-01") == {"P1"}
    assert len(_all(engine)) == 1


def _all(engine: Engine) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return list(conn.execute(select(Warning).where(Warning.rule_code == "USE-01")).all())


def test_parameters_apply_per_region_the_nearest_override_winning(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        agency=[agency("002001", "金水区第一小学", region=JINSHUI)],
        ba_bgt_info=[
            indicator("B1", "900000.00"),
            indicator("B2", "900000.00", region=JINSHUI, agency_code="002001"),
        ],
        pay_voucher=[
            payment("P1", "30000.00", **CASH),
            payment("P2", "30000.00", **CASH, mof_div_code=JINSHUI, agency_code="002001", bgt_id="B2"),
        ],
    )
    assert warned(engine, "USE-01") == set()
    lower = {ZHENGZHOU: {"single_limit_yuan": 20_000}, JINSHUI: {"single_limit_yuan": 40_000}}
    assert warned(engine, "USE-01", by_region=lower) == {"P1"}
    assert warned(engine, "USE-01", by_region={ZHENGZHOU: {"single_limit_yuan": 20_000}}) == {"P1", "P2"}


def test_the_whitelist_suppresses_a_pattern_and_ending_it_restores_the_warning(
    engine: Engine, tmp_path: Path
) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "60000.00", **CASH),
            payment("P2", "70000.00", **CASH, vou_date="2025-07-01"),
        ],
    )
    assert warned(engine, "USE-01") == {"P1", "P2"}
    entry = add_entry(
        engine,
        reason="退役军人抚恤金现金发放(经批准)",
        added_by="finance-1",
        rule="large_cash",
        object_id="P1",
    )
    assert warned(engine, "USE-01") == {"P2"}
    report = run(engine, "USE-01")
    assert report.suppressed == 1
    end_entry(engine, entry, "2025-01-01")
    assert warned(engine, "USE-01") == {"P1", "P2"}
    with pytest.raises(WhitelistError, match="must name"):
        add_entry(engine, reason="x", added_by="y", rule="USE-01")
    with pytest.raises(WhitelistError, match="no such rule"):
        add_entry(engine, reason="x", added_by="y", rule="USE-99", object_id="P1")


def test_every_load_runs_the_rules_incrementally(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[payment("P1", "60000.00", **CASH)],
    )
    load(engine, tmp_path, pay_voucher=[payment("P2", "61000.00", **CASH, vou_date="2025-04-02")])
    assert objects(engine, "USE-01") == {"P1", "P2"}
    with engine.connect() as conn:
        runs = conn.execute(select(MonitorRun.mode, MonitorRun.status).order_by(MonitorRun.id)).all()
        assert [tuple(r) for r in runs] == [("full", "done"), ("incremental", "done")]
        per_rule = conn.execute(select(MonitorRun.per_rule).order_by(MonitorRun.id.desc())).first()
    assert per_rule is not None and per_rule[0]["USE-01"]["mode"] == "incremental"
    assert per_rule[0]["USE-01"]["findings"] == 1  # only the new payment was looked at


def test_an_incremental_run_completes_a_group_begun_by_an_earlier_load(
    engine: Engine, tmp_path: Path
) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "40000.00", **CASH, vou_date="2025-05-06"),
            payment("P2", "40000.00", **CASH, vou_date="2025-05-07"),
        ],
    )
    assert objects(engine, "USE-01") == set()
    load(engine, tmp_path, pay_voucher=[payment("P3", "20000.01", **CASH, vou_date="2025-05-20")])
    assert objects(engine, "USE-01") == {"001001", "P1", "P2", "P3"}


def test_a_failing_rule_run_never_undoes_the_load(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("rule engine down")

    monkeypatch.setattr("monitor.runner.run_rules", broken)
    from connectors.ingest.loader import load_batch
    from tests.factories import write_table

    folder = tmp_path / "one"
    write_table(folder, "agency", [agency("001001", "郑州市第一初级中学")])
    write_table(folder, "pay_voucher", [payment("P1", "60000.00", **CASH, bgt_id="")])
    report = load_batch(engine, folder)
    assert any("monitoring: failed (RuntimeError: rule engine down)" in line for line in report.post_load)
    monkeypatch.undo()
    assert objects(engine, "USE-01") == set()
    later = run_rules(engine, incremental=True, only=["USE-01"])
    assert later.mode == "full" and objects(engine, "USE-01") == {"P1"}


def test_an_unknown_rule_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="no such rule: USE-99"):
        run_rules(engine, only=["USE-99"])


def test_the_calendar_is_filled_once(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, ba_bgt_info=[indicator("B1", "900000.00")], pay_voucher=[payment("P1", "10.00")])
    run_rules(engine, only=["USE-01"])
    with engine.connect() as conn:
        first = conn.execute(select(func.count(), func.min(WorkCalendar.day))).one()
    run_rules(engine, only=["USE-01"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count(), func.min(WorkCalendar.day))).one() == first
    assert BY_CODE["USE-01"].key == "large_cash"


def test_a_warning_found_again_names_the_objects_its_group_holds_now(engine: Engine, tmp_path: Path) -> None:
    may = [payment(f"P{i}", "60000.00", **CASH, vou_date=f"2025-05-0{i + 5}") for i in (1, 2)]
    load(engine, tmp_path, ba_bgt_info=[indicator("B1", "900000.00")], pay_voucher=may)
    assert objects(engine, "USE-01") == {"P1", "P2", "001001"}
    load(engine, tmp_path, pay_voucher=[payment("P3", "100.00", **CASH, vou_date="2025-05-20")])
    monthly = [w for w in warnings(engine, "USE-01") if w["object_type"] == "agency"]
    assert len(monthly) == 1 and monthly[0]["amount_fen"] == 12_010_000
    assert objects(engine, "USE-01") == {"P1", "P2", "P3", "001001"}
