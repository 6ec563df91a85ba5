"""What a Henan region's government looks like: finance-bureau divisions, departments and their units.

Department order is priority order: a scale that keeps N departments per region keeps the first N.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Division:
    """A finance-bureau division (财政内部处室) and the character of its documents (豫财农 …)."""

    code: str
    names: tuple[str, str, str]  # province 处, city 科, county 股
    doc_char: str
    central_prefix: str


DIVISIONS: dict[str, Division] = {
    "budget": Division("01", ("预算处", "预算科", "预算股"), "预", "财预"),
    "treasury": Division("02", ("国库处", "国库科", "国库股"), "库", "财库"),
    "admin": Division("03", ("行政政法处", "行政政法科", "行政政法股"), "行", "财行"),
    "edu": Division("04", ("教科文处", "教科文科", "教科文股"), "教", "财教"),
    "econ": Division("05", ("经济建设处", "经济建设科", "经济建设股"), "建", "财建"),
    "agri": Division("06", ("农业农村处", "农业农村科", "农业农村股"), "农", "财农"),
    "social": Division("07", ("社会保障处", "社会保障科", "社会保障股"), "社", "财社"),
    "env": Division("08", ("自然资源和生态环境处", "自然资源和生态环境科", "资源环境股"), "环资", "财资环"),
    "general": Division("09", ("综合处", "综合科", "综合股"), "综", "财综"),
}


@dataclass(frozen=True, slots=True)
class UnitTemplate:
    """A budget unit under a department: name suffix, its 项 of function, its kind and where it exists."""

    suffix: str
    exp_func: str
    kind: str  # school, hospital, clinic, center
    levels: str  # p province, c city, k county, t township
    size: int = 2  # relative spending size


@dataclass(frozen=True, slots=True)
class Department:
    key: str
    province_name: str
    local_name: str
    division: str
    exp_func: str  # 行政运行 of the department itself
    units: tuple[UnitTemplate, ...]
    projects: tuple[str, ...]  # project profiles (see demo.paytypes.PROJECTS)


def _u(suffix: str, exp_func: str, kind: str, levels: str, size: int = 2) -> UnitTemplate:
    return UnitTemplate(suffix, exp_func, kind, levels, size)


DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "edu",
        "教育厅",
        "教育局",
        "edu",
        "2050101",
        (
            _u("第一初级中学", "2050203", "school", "k", 3),
            _u("实验中学", "2050204", "school", "p", 3),
            _u("第一高级中学", "2050204", "school", "ck", 4),
            _u("实验小学", "2050202", "school", "ck", 3),
            _u("第二初级中学", "2050203", "school", "k", 3),
            _u("职业教育中心", "2050399", "school", "ck", 3),
            _u("特殊教育学校", "2050701", "school", "pck"),
            _u("教师发展中心", "2050801", "center", "ck"),
            _u("幼儿园", "2050201", "school", "ck"),
            _u("学生资助管理中心", "2050199", "center", "p"),
            _u("电化教育馆", "2050199", "center", "pc"),
        ),
        ("school_building", "teacher_training", "edu_equipment"),
    ),
    Department(
        "agri",
        "农业农村厅",
        "农业农村局",
        "agri",
        "2130101",
        (
            _u("农业技术推广中心", "2130106", "center", "pck"),
            _u("畜牧兽医服务中心", "2130108", "center", "pck"),
            _u("农产品质量安全检测站", "2130109", "center", "pck"),
            _u("农业综合行政执法大队", "2130110", "center", "ck"),
            _u("农村经营管理站", "2130124", "center", "k"),
        ),
        ("agri_service", "farmland"),
    ),
    Department(
        "civil",
        "民政厅",
        "民政局",
        "social",
        "2080201",
        (
            _u("社会福利院", "2081005", "center", "pck", 3),
            _u("救助管理站", "2082002", "center", "pck"),
            _u("殡仪馆", "2081004", "center", "ck"),
            _u("儿童福利院", "2081001", "center", "pc"),
        ),
        ("welfare_facility",),
    ),
    Department(
        "health",
        "卫生健康委员会",
        "卫生健康委员会",
        "social",
        "2100101",
        (
            _u("人民医院", "2100201", "hospital", "pck", 6),
            _u("疾病预防控制中心", "2100401", "center", "pck", 3),
            _u("中医院", "2100202", "hospital", "pck", 4),
            _u("妇幼保健院", "2100206", "hospital", "pck", 3),
            _u("卫生监督所", "2100402", "center", "ck"),
        ),
        ("med_equipment", "health_service"),
    ),
    Department(
        "transport",
        "交通运输厅",
        "交通运输局",
        "econ",
        "2140101",
        (
            _u("公路事业发展中心", "2140106", "center", "pck", 4),
            _u("农村公路管理所", "2140106", "center", "k", 3),
            _u("交通运输综合行政执法大队", "2140199", "center", "ck"),
        ),
        ("road",),
    ),
    Department(
        "hrss",
        "人力资源和社会保障厅",
        "人力资源和社会保障局",
        "social",
        "2080101",
        (
            _u("社会保险中心", "2080109", "center", "pck"),
            _u("公共就业服务中心", "2080111", "center", "pck"),
            _u("劳动人事争议仲裁院", "2080112", "center", "pc"),
        ),
        ("employment_service",),
    ),
    Department(
        "finance",
        "财政厅",
        "财政局",
        "budget",
        "2010601",
        (
            _u("财政国库支付中心", "2010605", "center", "pck"),
            _u("财政投资评审中心", "2010699", "center", "pck"),
        ),
        ("finance_it",),
    ),
    Department(
        "housing",
        "住房和城乡建设厅",
        "住房和城乡建设局",
        "econ",
        "2120101",
        (
            _u("建设工程质量安全监督站", "2120106", "center", "pck"),
            _u("住房保障服务中心", "2210199", "center", "ck"),
        ),
        ("urban_infra",),
    ),
    Department(
        "medsec",
        "医疗保障局",
        "医疗保障局",
        "social",
        "2101501",
        (_u("医疗保障服务中心", "2101506", "center", "pck"),),
        ("medsec_it",),
    ),
    Department(
        "water",
        "水利厅",
        "水利局",
        "agri",
        "2130301",
        (
            _u("水利工程运行保障中心", "2130306", "center", "pck", 3),
            _u("水土保持站", "2130310", "center", "ck"),
            _u("水文水资源测报中心", "2130313", "center", "pc"),
        ),
        ("water_works",),
    ),
    Department(
        "natres",
        "自然资源厅",
        "自然资源局",
        "env",
        "2200101",
        (
            _u("不动产登记中心", "2200150", "center", "pck"),
            _u("国土空间规划研究中心", "2200199", "center", "pc"),
        ),
        ("land_survey",),
    ),
    Department(
        "culture",
        "文化和旅游厅",
        "文化广电和旅游局",
        "edu",
        "2070101",
        (
            _u("图书馆", "2070104", "center", "pck"),
            _u("文化馆", "2070109", "center", "pck"),
            _u("博物馆", "2070205", "center", "pc"),
        ),
        ("culture_event",),
    ),
    Department(
        "eco",
        "生态环境厅",
        "生态环境局",
        "env",
        "2110101",
        (_u("生态环境监测中心", "2110299", "center", "pck"),),
        ("env_monitoring",),
    ),
    Department(
        "forestry",
        "林业局",
        "林业局",
        "agri",
        "2130201",
        (_u("林业技术推广站", "2130206", "center", "pck"),),
        ("afforestation",),
    ),
    Department(
        "govoffice",
        "人民政府办公厅",
        "人民政府办公室",
        "admin",
        "2010301",
        (_u("机关事务服务中心", "2010350", "center", "pck"),),
        ("gov_it",),
    ),
    Department(
        "dev",
        "发展和改革委员会",
        "发展和改革委员会",
        "econ",
        "2010401",
        (_u("价格监测中心", "2010450", "center", "pc"),),
        ("planning_study",),
    ),
    Department(
        "market",
        "市场监督管理局",
        "市场监督管理局",
        "admin",
        "2013801",
        (_u("检验检测中心", "2013850", "center", "pck"),),
        ("market_check",),
    ),
    Department(
        "emergency",
        "应急管理厅",
        "应急管理局",
        "admin",
        "2240101",
        (_u("应急救援保障中心", "2240150", "center", "pck"),),
        ("emergency_supplies",),
    ),
    Department(
        "veterans",
        "退役军人事务厅",
        "退役军人事务局",
        "social",
        "2082801",
        (_u("退役军人服务中心", "2082850", "center", "pck"),),
        ("veteran_service",),
    ),
    Department(
        "justice",
        "司法厅",
        "司法局",
        "admin",
        "2040601",
        (_u("公共法律服务中心", "2040607", "center", "pck"),),
        ("legal_aid",),
    ),
    Department(
        "sports",
        "体育局",
        "体育局",
        "edu",
        "2070301",
        (_u("全民健身中心", "2070308", "center", "pck"),),
        ("sports_event",),
    ),
    Department(
        "stats",
        "统计局",
        "统计局",
        "admin",
        "2010501",
        (_u("社会经济调查队", "2010508", "center", "pck"),),
        ("census",),
    ),
    Department(
        "audit",
        "审计厅",
        "审计局",
        "admin",
        "2010801",
        (_u("审计信息中心", "2010850", "center", "pc"),),
        ("audit_it",),
    ),
    Department(
        "science",
        "科学技术厅",
        "科学技术局",
        "edu",
        "2060101",
        (_u("科学技术情报研究所", "2060301", "center", "pc"),),
        ("tech_support",),
    ),
)

DEPARTMENT_BY_KEY = {d.key: d for d in DEPARTMENTS}

#: a township's government and its 站所 (for 街道: an office and community services)
TOWNSHIP_UNITS = (
    _u("卫生院", "2100302", "clinic", "t", 2),
    _u("农业服务中心", "2130104", "center", "t", 1),
    _u("中心学校", "2050202", "school", "t", 2),
)
SUBDISTRICT_UNITS = (
    _u("社区卫生服务中心", "2100301", "clinic", "t", 2),
    _u("便民服务中心", "2010350", "center", "t", 1),
)
TOWNSHIP_GOV_EXP_FUNC = "2010301"
