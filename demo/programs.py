"""Transfer programs (转移支付) and the special funds (专项资金) they carry down the levels.

A program is issued by the province each year, to every city (and 济源), passed on by each city to its
counties and, where it has a township profile, by each county to its townships; every level assigns part
of it to its own units (``leaf_depts``). Special programs carry their fund's code on every indicator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Program:
    key: str
    name: str
    special: bool  # a special fund (专项资金) with a spe_fund code
    division: str  # finance-bureau division (demo.catalog.DIVISIONS)
    fund_type: str
    exp_func: str  # 项 the whole chain is classified under ("" for general transfers: the units' own)
    central: bool  # central funds the province received (财农〔2025〕N号) rather than its own
    leaf_depts: tuple[str, ...]  # departments whose units a city / county assigns the money to
    leaf_kinds: tuple[str, ...]  # unit kinds preferred among them ("" = the department itself)
    profile: str  # project profile of city / county leaves ("ops", "batch:<item>", "" for none)
    township_profile: str  # profile of the township governments' leaves ("" = not passed to townships)
    min_scale: int  # 0 small, 1 medium, 2 province
    policy_doc: str  # the fund's management measures

    @property
    def to_township(self) -> bool:
        return bool(self.township_profile)


def _program(
    key: str,
    name: str,
    division: str,
    fund: str,
    exp: str,
    origin: str,
    depts: str,
    kinds: str,
    profile: str,
    township: str,
    scale: int,
    doc: str,
) -> Program:
    return Program(
        key,
        name,
        bool(doc),
        division,
        fund,
        exp,
        origin == "central",
        tuple(depts.split()),
        tuple("" if k == "-" else k for k in kinds.split()),
        profile,
        township,
        scale,
        doc,
    )


# fmt: off
#: key, name, division, fund type, 项, origin, leaf departments, leaf unit kinds ("-" the department
#: itself), leaf profile, township profile, smallest scale, policy document (special funds only)
PROGRAMS: tuple[Program, ...] = tuple(_program(*row) for row in (
    ("xiangcun", "衔接推进乡村振兴补助资金", "agri", "1", "2130505", "central", "agri", "-",
     "village_industry", "village_road", 0, "豫财农〔2021〕95号"),
    ("yiwu", "义务教育薄弱环节改善与能力提升补助资金", "edu", "1", "2050203", "central", "edu", "school",
     "school_building", "", 0, "豫财教〔2021〕76号"),
    ("gengdi", "耕地地力保护补贴", "agri", "1", "2130122", "central", "agri", "-",
     "batch:farmland", "", 0, "豫财农〔2016〕118号"),
    ("junheng", "均衡性转移支付", "budget", "1", "", "province", "edu agri civil health",
     "- school center hospital", "ops", "", 0, ""),
    ("yingyang", "农村义务教育学生营养改善计划补助资金", "edu", "1", "2050202", "central", "edu", "school",
     "meals", "", 1, "豫财教〔2022〕31号"),
    ("kunnan", "困难群众救助补助资金", "social", "1", "2081902", "central", "civil", "-",
     "batch:dibao", "", 1, "豫财社〔2023〕27号"),
    ("yibao", "城乡居民基本医疗保险补助资金", "social", "1", "2101202", "central", "medsec", "-",
     "to_special_account", "", 1, "豫财社〔2020〕45号"),
    ("jiaotong", "车辆购置税收入补助地方资金", "econ", "1", "2140602", "central", "transport", "center",
     "road", "", 1, "豫财建〔2022〕66号"),
    ("gongwei", "基本公共卫生服务补助资金", "social", "1", "2100408", "central", "health", "center hospital",
     "health_service", "", 1, "豫财社〔2022〕58号"),
    ("jiuye", "就业补助资金", "social", "1", "2080702", "central", "hrss", "center",
     "employment_service", "", 1, "豫财社〔2023〕12号"),
    ("shuili", "水利发展资金", "agri", "1", "2130305", "central", "water", "center",
     "water_works", "", 1, "豫财农〔2022〕40号"),
    ("canji", "困难残疾人生活补贴和重度残疾人护理补贴资金", "social", "1", "2081107", "province", "civil",
     "-", "batch:disability", "", 1, "豫财社〔2021〕83号"),
    ("nonggai", "农村综合改革转移支付", "agri", "1", "2130705", "province", "agri", "-",
     "", "village_ops", 1, "豫财农〔2019〕52号"),
    ("fuli", "福利彩票公益金", "social", "2", "22960", "province", "civil", "center",
     "welfare_facility", "", 1, "豫财社〔2019〕40号"),
    ("daqi", "大气污染防治资金", "env", "1", "2110301", "central", "eco", "center -",
     "env_monitoring", "", 2, "豫财环资〔2021〕35号"),
    ("wenhua", "公共文化服务体系建设补助资金", "edu", "1", "2070109", "province", "culture", "center",
     "culture_event", "", 2, "豫财教〔2022〕44号"),
))
# fmt: on
