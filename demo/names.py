"""Name pools: built once per run, then sampled with ``random`` (Faker is far too slow to call per row)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

#: characters of trade names (字号); two of them make one, e.g. 鑫泰, 宏源
TRADE_CHARS = (
    "鑫华盛宏达通建恒泰安丰瑞源润博远正中信诚德利兴昌隆金锦豫嘉宇天海新科创联合誉腾飞顺祥和美旺鼎伟峰"
    "晨阳光明辉煌蓝图川汇众益康乐福永鸿胜佳亿万方圆久弘裕洪嵩洛宛商邦卓越汉唐晟昊坤乾"
)

#: industry → name templates; {p} 河南, {c} a city's short name, {z} a trade name
INDUSTRIES: dict[str, tuple[str, ...]] = {
    "construction": (
        "{p}{z}建设工程有限公司",
        "{c}{z}建筑工程有限公司",
        "{p}{z}路桥工程有限公司",
        "{c}{z}市政工程有限公司",
        "{p}{z}水利水电工程有限公司",
        "{c}{z}建筑安装有限公司",
    ),
    "office": ("{c}{z}办公用品有限公司", "{c}{z}商贸有限公司", "{c}{z}文化用品有限公司"),
    "it": ("{p}{z}信息技术有限公司", "{c}{z}科技有限公司", "{p}{z}软件有限公司", "{c}{z}网络科技有限公司"),
    "equipment": (
        "{c}{z}电器有限公司",
        "{p}{z}家具有限公司",
        "{p}{z}教学设备有限公司",
        "{c}{z}机电设备有限公司",
    ),
    "medical": ("{p}{z}医疗器械有限公司", "{p}{z}医药有限公司", "{c}{z}医疗设备有限公司"),
    "hotel": ("{c}{z}大酒店有限公司", "{c}{z}宾馆有限公司", "{c}{z}酒店管理有限公司"),
    "catering": ("{c}{z}餐饮管理有限公司", "{c}{z}饮食服务有限公司"),
    "meals": ("{c}{z}餐饮服务有限公司", "{p}{z}食品有限公司", "{c}{z}团餐管理有限公司"),
    "property": ("{c}{z}物业服务有限公司", "{p}{z}物业管理有限公司"),
    "printing": ("{c}{z}印务有限公司", "{c}{z}广告有限公司", "{c}{z}彩印有限公司"),
    "consulting": (
        "河南{z}会计师事务所（普通合伙）",
        "河南{z}律师事务所",
        "{p}{z}工程咨询有限公司",
        "{p}{z}项目管理有限公司",
        "{p}{z}工程造价咨询有限公司",
    ),
    "auto": ("{c}{z}汽车服务有限公司", "{c}{z}汽车维修有限公司"),
    "agri": ("{c}{z}农业科技有限公司", "{c}{z}农资有限公司", "{p}{z}种业有限公司", "{c}{z}农机有限公司"),
    "training": ("{c}{z}职业培训学校有限公司", "{p}{z}教育科技有限公司"),
    "environment": ("{p}{z}环保科技有限公司", "{p}{z}环境检测有限公司"),
    "soe": ("河南省{z}投资集团有限公司", "河南{z}控股集团有限公司"),
    "travel": ("{c}{z}旅行社有限公司",),
}

#: 一卡通 subsidy payers use a bank's 代发 account; a few banks only
SUBSIDY_BANKS = ("中国农业银行", "中国邮政储蓄银行", "河南农村商业银行")
UNIT_BANKS = ("中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "中原银行")

VILLAGE_SUFFIXES = ("庄", "营", "寨", "集", "店", "楼", "岗", "屯", "湾", "洼", "铺", "桥")
VILLAGE_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁宋谢唐韩冯于董萧程曹袁邓许傅沈曾彭吕"

MEETINGS = ("年度工作会议", "安全生产工作会议", "业务工作推进会", "半年工作总结会", "项目调度会")
TRAININGS = ("业务骨干培训", "财务人员培训", "安全生产培训", "信息化应用培训", "新任职干部培训")


@dataclass(frozen=True, slots=True)
class NamePool:
    """Person names (male, female) and trade names, drawn once per run."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    trade: tuple[str, ...]


def build_name_pool(seed: int, size: int = 1500) -> NamePool:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    male = tuple(fake.name_male() for _ in range(size))
    female = tuple(fake.name_female() for _ in range(size))
    rng = random.Random(f"{seed}|trade")
    chars = list(TRADE_CHARS)
    trade = sorted({a + b for a in chars for b in chars if a != b})
    rng.shuffle(trade)
    return NamePool(male, female, tuple(trade))


def village_name(rng: random.Random) -> str:
    return (
        rng.choice(VILLAGE_SURNAMES)
        + rng.choice(VILLAGE_SURNAMES + "东西南北前后大小")
        + rng.choice(VILLAGE_SUFFIXES)
    )
