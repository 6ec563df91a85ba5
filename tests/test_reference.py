"""The shipped reference data (schema/reference) is complete and self-consistent."""

from __future__ import annotations

from collections import Counter

import pytest

from schema.reference import (
    REFERENCE_DIR,
    SCHEMES,
    Classification,
    classifications_for,
    load_classifications,
    load_code_sets,
    load_regions,
)

YEARS = range(2015, 2027)

HENAN = "410000000"
# The 17 prefecture-level cities of Henan (NBS 2022); 济源 (419001) is a province-administered county.
HENAN_CITIES = {
    "410100000": "郑州市", "410200000": "开封市", "410300000": "洛阳市", "410400000": "平顶山市",
    "410500000": "安阳市", "410600000": "鹤壁市", "410700000": "新乡市", "410800000": "焦作市",
    "410900000": "濮阳市", "411000000": "许昌市", "411100000": "漯河市", "411200000": "三门峡市",
    "411300000": "南阳市", "411400000": "商丘市", "411500000": "信阳市", "411600000": "周口市",
    "411700000": "驻马店市",
}  # fmt: skip
HENAN_TOWNSHIPS = 2586  # every township-level unit of Henan in streets.csv (NBS 2022)


# --- regions -------------------------------------------------------------------------------------------


def test_regions_have_unique_nine_digit_codes() -> None:
    regions = load_regions()
    assert all(len(r.code) == 9 and r.code.isdigit() for r in regions)
    duplicates = [code for code, n in Counter(r.code for r in regions).items() if n > 1]
    assert duplicates == []


def test_regions_are_listed_parents_first_by_level_then_code() -> None:
    regions = load_regions()
    assert [(r.level_no, r.code) for r in regions] == sorted((r.level_no, r.code) for r in regions)
    seen: set[str] = set()
    for region in regions:
        assert region.parent_code is None or region.parent_code in seen, region
        seen.add(region.code)


def test_every_parent_is_one_level_up_except_counties_of_a_grouping() -> None:
    by_code = {r.code: r for r in load_regions()}
    for region in by_code.values():
        if region.level_no == 1:
            assert region.parent_code is None, region
            continue
        assert region.parent_code is not None, region
        parent = by_code[region.parent_code]
        if parent.level_no == region.level_no - 1:
            continue
        # Documented exception: a county under a pseudo-grouping (市辖区, 县, 省直辖县级行政区划) hangs
        # directly under its province and stays level 3.
        assert (region.level_no, parent.level_no) == (3, 1), region
        assert region.code[:2] == parent.code[:2], region


def test_thirty_one_provinces_and_no_pseudo_units() -> None:
    regions = load_regions()
    assert sum(1 for r in regions if r.level_no == 1) == 31
    names = {r.name for r in regions if r.level_no <= 2}
    assert not names & {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
    assert not any(r.name.endswith("直辖县级行政区划") for r in regions)
    for grouping in ("110100000", "500100000", "500200000", "419000000", "659000000"):
        assert grouping not in {r.code for r in regions}


def test_municipality_districts_and_province_administered_counties_hang_under_the_province() -> None:
    by_code = {r.code: r for r in load_regions()}
    assert by_code["110101000"].parent_code == "110000000"  # 东城区, via 北京 市辖区
    assert by_code["500229000"].parent_code == "500000000"  # 城口县, via 重庆 县
    jiyuan = by_code["419001000"]
    assert (jiyuan.name, jiyuan.parent_code, jiyuan.level_no) == ("济源市", HENAN, 3)
    assert by_code["429004000"].parent_code == "420000000"  # 仙桃市
    assert by_code["659001000"].parent_code == "650000000"  # 石河子市


def test_cities_without_counties_are_not_repeated_as_their_own_county() -> None:
    codes = {r.code: r for r in load_regions()}
    assert codes["441900000"].level_no == 2  # 东莞市 is a city only
    assert "620201000" not in codes  # 嘉峪关's mirror county


def test_henan_has_its_cities_jiyuan_and_townships() -> None:
    regions = load_regions()
    cities = {r.code: r.name for r in regions if r.parent_code == HENAN and r.level_no == 2}
    assert cities == HENAN_CITIES
    direct_counties = [r.name for r in regions if r.parent_code == HENAN and r.level_no == 3]
    assert direct_counties == ["济源市"]
    townships = [r for r in regions if r.level_no == 4]
    assert len(townships) == HENAN_TOWNSHIPS
    assert all(r.code.startswith("41") for r in townships)
    by_code = {r.code: r for r in regions}
    assert by_code["410102001"].name == "林山寨街道"
    assert by_code["410102001"].parent_code == "410102000"
    assert sum(1 for r in townships if r.parent_code == "419001000") == 16  # 济源's townships


# --- classifications -----------------------------------------------------------------------------------


def _valid(scheme: str, year: int) -> dict[str, str]:
    return classifications_for(scheme, year)


def test_classification_rows_are_well_formed_and_unique() -> None:
    rows = load_classifications()
    assert {c.scheme for c in rows} == set(SCHEMES)
    for c in rows:
        assert c.code.isdigit() and len(c.code) in (3, 5, 7), c
        assert c.name.strip() == c.name and c.name, c
        assert 2000 <= c.first_year <= 2026, c
        assert c.last_year is None or c.first_year <= c.last_year, c
    keys = Counter((c.scheme, c.code, c.first_year) for c in rows)
    assert [k for k, n in keys.items() if n > 1] == []


def test_periods_of_one_code_do_not_overlap() -> None:
    by_key: dict[tuple[str, str], list[Classification]] = {}
    for c in load_classifications():
        by_key.setdefault((c.scheme, c.code), []).append(c)
    for key, versions in by_key.items():
        for year in YEARS:
            assert sum(v.valid_in(year) for v in versions) <= 1, (key, year)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_kuan_and_xiang_has_its_parent_in_the_same_years(scheme: str) -> None:
    for year in YEARS:
        codes = _valid(scheme, year)
        orphans = [code for code in codes if len(code) > 3 and code[:-2] not in codes]
        assert orphans == [], (scheme, year)


def test_levels_follow_code_length() -> None:
    levels = {c.code: c.level for c in load_classifications() if c.scheme == "exp_func"}
    assert (levels["205"], levels["20502"], levels["2050203"]) == (1, 2, 3)


@pytest.mark.parametrize(
    ("scheme", "code", "name"),
    [
        ("exp_func", "201", "一般公共服务支出"),
        ("exp_func", "2010101", "行政运行"),
        ("exp_func", "2010102", "一般行政管理事务"),
        ("exp_func", "2010350", "事业运行"),
        ("exp_func", "2050202", "小学教育"),
        ("exp_func", "2050203", "初中教育"),
        ("exp_func", "2080801", "死亡抚恤"),
        ("exp_func", "2080505", "机关事业单位基本养老保险缴费支出"),
        ("exp_func", "2130122", "农业生产发展"),
        ("exp_func", "2130505", "生产发展"),
        ("exp_func", "2101601", "老龄卫生健康事务"),
        ("exp_func", "224", "灾害防治及应急管理支出"),
        ("exp_func", "231", "债务还本支出"),
        ("dep_eco", "30211", "差旅费"),
        ("dep_eco", "30212", "因公出国（境）费用"),
        ("dep_eco", "30215", "会议费"),
        ("dep_eco", "30216", "培训费"),
        ("dep_eco", "30217", "公务接待费"),
        ("dep_eco", "30228", "工会经费"),
        ("dep_eco", "30231", "公务用车运行维护费"),
        ("dep_eco", "31013", "公务用车购置"),
        ("dep_eco", "30902", "办公设备购置"),
        ("gov_eco", "50101", "工资奖金津补贴"),
        ("gov_eco", "50206", "公务接待费"),
        ("gov_eco", "59999", "其他支出"),
        ("income", "10101", "增值税"),
        ("income", "10104", "企业所得税"),
        ("income", "110", "转移性收入"),
    ],
)
def test_known_codes_are_present_in_2025(scheme: str, code: str, name: str) -> None:
    assert _valid(scheme, 2025).get(code) == name


def test_class_level_codes_are_complete() -> None:
    exp = _valid("exp_func", 2025)
    assert {code for code in exp if len(code) == 3} >= {
        "201", "202", "203", "204", "205", "206", "207", "208", "209", "210", "211", "212", "213", "214",
        "215", "216", "217", "219", "220", "221", "222", "223", "224", "227", "229", "230", "231", "232",
        "233",
    }  # fmt: skip
    dep = {code for code in _valid("dep_eco", 2025) if len(code) == 3}
    assert dep == {"301", "302", "303", "307", "309", "310", "311", "312", "313", "399"}
    gov = {code for code in _valid("gov_eco", 2025) if len(code) == 3}
    assert gov == {f"5{n:02d}" for n in range(1, 15)} | {"599"}
    income = {code for code in _valid("income", 2025) if len(code) == 3}
    assert income == {"101", "102", "103", "104", "105", "110"}


def test_sangong_and_meeting_codes_hold_in_every_year() -> None:
    # The rule engine keys 三公经费 and meeting/training spending on these codes for every fiscal year.
    for year in YEARS:
        dep = _valid("dep_eco", year)
        for code in ("30212", "30215", "30216", "30217", "30231", "31013"):
            assert code in dep, (code, year)


def test_renamed_codes_resolve_to_the_name_of_the_year() -> None:
    assert _valid("exp_func", 2018)["210"] == "医疗卫生与计划生育支出"
    assert _valid("exp_func", 2019)["210"] == "卫生健康支出"
    assert _valid("exp_func", 2020)["21305"] == "扶贫"
    assert _valid("exp_func", 2021)["21305"] == "巩固脱贫衔接乡村振兴"
    assert "224" not in _valid("exp_func", 2018)
    assert "234" in _valid("exp_func", 2020) and "234" not in _valid("exp_func", 2025)


def test_classifications_for_rejects_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unknown classification scheme"):
        classifications_for("exp_fun", 2025)


# --- code sets -----------------------------------------------------------------------------------------


def test_code_sets_match_feeds_md() -> None:
    sets = load_code_sets()
    expected_codes = {
        "fund_type_code": ["1", "2", "3", "4", "9"],
        "level_no": ["1", "2", "3", "4"],
        "set_mode_code": ["1", "2", "3", "4", "9"],
        "pay_type_code": ["1", "2"],
        "payee_type": ["1", "2", "3", "4", "5", "6", "9"],
        "source_type_code": ["1", "2", "3", "4"],
        "account_type": ["1", "2", "3", "9"],
        "pro_kind_code": ["1", "2", "3"],
        "risk_type": [
            "dishonest_debtor", "abnormal_operation", "deregistered", "deceased", "property_deed_tax",
            "public_employee", "vehicle_owner",
        ],
        "side": ["income", "expense"],
    }  # fmt: skip
    assert {name: list(codes) for name, codes in sets.items()} == expected_codes
    assert sets["fund_type_code"]["1"] == "一般公共预算"
    assert sets["set_mode_code"]["3"] == "公务卡"
    assert sets["pay_type_code"] == {"1": "直接支付", "2": "授权支付"}
    assert sets["pro_kind_code"] == {"1": "人员类", "2": "运转类", "3": "特定目标类"}
    assert sets["risk_type"]["dishonest_debtor"] == "失信被执行人"
    assert sets["side"] == {"income": "收入", "expense": "支出"}


def test_load_code_sets_returns_a_copy() -> None:
    load_code_sets()["side"]["income"] = "changed"
    assert load_code_sets()["side"]["income"] == "收入"


def test_reference_files_are_utf8_without_bom() -> None:
    for name in ("regions.csv", "classifications.csv", "code_sets.csv"):
        head = (REFERENCE_DIR / name).read_bytes()[:3]
        assert head != b"\xef\xbb\xbf", name
