"""Spending profiles: which kinds of payment (demo.paytypes) an indicator mixes, and with what weights.

A profile is written ``"kind:weight kind:weight …"``. Operating profiles (运转类) go by unit kind;
project profiles (特定目标类) carry their project's name; 一卡通 subsidies are batch items.
"""

from __future__ import annotations

from dataclasses import dataclass


def _mix(text: str) -> tuple[tuple[str, int], ...]:
    return tuple((kind, int(weight)) for kind, weight in (part.split(":") for part in text.split()))


# fmt: off
#: operating (运转类) profiles by unit kind
OPERATIONS: dict[str, tuple[tuple[str, int], ...]] = {kind: _mix(text) for kind, text in {
    "admin": "office:14 printing:4 water:4 power:5 telecom:4 property:3 travel:12 repair:3 equip_repair:3 "
             "meeting:3 training:3 reception:6 labour:5 entrust:4 car:8 equipment:6",
    "school": "office:10 water:5 power:6 telecom:3 repair:5 equip_repair:3 materials_lab:8 equipment:6 "
              "property:3 labour:4 travel:4 teacher_training:4",
    "hospital": "materials_med:20 med_maintenance:6 power:5 water:4 labour:4 equipment:5 lab_outsourcing:5 "
                "office:5 training:3 property:4 travel:4",
    "clinic": "materials_med:12 power:3 water:2 office:4 repair:2 equipment:2 travel:2 equip_repair:1",
    "center": "office:10 power:4 water:3 telecom:3 travel:8 repair:2 equip_repair:2 training:3 labour:5 "
              "entrust:6 equipment:5 car:4 printing:3 meeting:2 reception:3",
    "township": "office:8 power:4 water:3 travel:6 repair:4 equip_repair:1 labour:8 car:5 reception:4 "
                "entrust:3 village_works:4 equipment:4 meeting:2",
}.items()}

#: specific-purpose (特定目标类) project profiles: (project name, payment mix)
PROJECTS: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    key: (name, _mix(text)) for key, name, text in (
    ("school_building", "{y}年校舍维修改造项目", "school_repair:5 edu_equipment:3 supervision:1"),
    ("teacher_training", "{y}年教师培训项目", "teacher_training:1"),
    ("edu_equipment", "{y}年教学装备购置项目", "edu_equipment:3 it:1"),
    ("agri_service", "{y}年农业技术推广服务项目", "agri_service:3 agri_material:2 agri_equipment:1"),
    ("farmland", "{y}年高标准农田建设项目", "farmland_works:4 supervision:1"),
    ("welfare_facility", "{y}年养老服务设施改造项目", "welfare_repair:3 equipment:2"),
    ("med_equipment", "{y}年医疗设备购置项目", "med_equipment:3 equipment:1"),
    ("health_service", "{y}年基本公共卫生服务项目", "health_service:3 materials_med:2"),
    ("road", "{y}年农村公路建设养护项目", "road:4 supervision:1"),
    ("employment_service", "{y}年就业创业服务项目", "skills_training:3 it_service:1"),
    ("finance_it", "{y}年预算管理一体化系统运维项目", "it_service:2 it:1"),
    ("urban_infra", "{y}年城市基础设施建设项目", "urban_works:4 supervision:1"),
    ("medsec_it", "{y}年医保信息平台运维项目", "it_service:1"),
    ("water_works", "{y}年水利工程建设项目", "water_works:4 supervision:1"),
    ("land_survey", "{y}年国土空间规划编制项目", "entrust:2 supervision:1"),
    ("culture_event", "{y}年公共文化服务项目", "culture_service:3 printing:1"),
    ("env_monitoring", "{y}年生态环境监测项目", "env_service:3 agri_equipment:1"),
    ("afforestation", "{y}年国土绿化项目", "agri_material:2 agri_service:2"),
    ("gov_it", "{y}年政务信息化建设项目", "it:1 it_service:2"),
    ("planning_study", "{y}年规划研究项目", "entrust:1"),
    ("market_check", "{y}年食品安全抽检项目", "lab_outsourcing:2 entrust:1"),
    ("emergency_supplies", "{y}年应急物资储备项目", "equipment:2 agri_equipment:1"),
    ("veteran_service", "{y}年退役军人服务保障项目", "entrust:1 printing:1"),
    ("legal_aid", "{y}年法律援助项目", "entrust:1"),
    ("sports_event", "{y}年全民健身活动项目", "culture_service:1 equipment:1"),
    ("census", "{y}年统计调查项目", "labour:2 printing:1"),
    ("audit_it", "{y}年审计信息化项目", "it_service:1"),
    ("tech_support", "{y}年科技创新服务项目", "entrust:1 it:1"),
    # leaves of transfer programs
    ("village_industry", "{y}年衔接资金产业发展项目", "industry_works:4 agri_equipment:1"),
    ("village_road", "{y}年衔接资金村内基础设施项目", "village_works:1"),
    ("village_ops", "{y}年村级组织运转经费", "village_ops:1"),
    ("meals", "{y}年农村义务教育学生营养改善计划", "meals:1"),
    ("to_special_account", "{y}年城乡居民基本医疗保险财政补助", "to_special_account:1"),
    ("soe_capital", "{y}年国有企业资本金注入项目", "soe_capital:1"),
)}
# fmt: on


@dataclass(frozen=True, slots=True)
class BatchItem:
    """A subsidy paid person by person through 一卡通 (one voucher per payer and period, with details)."""

    key: str
    subsidy_item: str
    item_code: str  # in the tracking id
    dep_eco: str
    gov_eco: str
    months: tuple[int, ...]  # periods paid (an annual item once, in its month)


_MONTHLY = tuple(range(1, 13))
BATCH_ITEMS: dict[str, BatchItem] = {
    b.key: b
    for b in (
        BatchItem("farmland", "耕地地力保护补贴", "GD", "30310", "50903", (5,)),
        BatchItem("dibao", "农村最低生活保障金", "DB", "30305", "50901", _MONTHLY),
        BatchItem("disability", "困难残疾人生活补贴", "CJ", "30305", "50901", _MONTHLY),
        BatchItem("pension", "城乡居民基础养老金", "YL", "30399", "50999", _MONTHLY),
    )
}
