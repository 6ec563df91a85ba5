"""Kinds of payment, by departmental economic code, with their purposes, payees and amounts.

Purposes are templates separated by "/": {y} year, {m} the month billed (the month before the payment),
{pm} the months a scheduled payment covers, {q} quarter, {n} a count, {meeting}, {training}, {village}.
No normal purpose contains a keyword of ``monitor.thresholds.SUSPICIOUS_KEYWORDS`` or
``SANGONG_PREPAY_KEYWORDS`` (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PayType:
    key: str
    dep_eco: str
    gov_admin: str  # 政府经济分类 when an administrative unit pays
    gov_inst: str  # … when an institution (事业单位) pays
    purposes: tuple[str, ...]
    payee: (
        str  # an industry of demo.names.INDUSTRIES, or person / payroll / water / power / telecom / village
    )
    median_yuan: int
    sigma: int  # in thousandths, a key of demo.rand.LOGNORMAL
    max_yuan: int
    mode: str = "transfer"  # transfer | card | small (transfer, sometimes card or a little cash)
    round_fen: int = 1
    fixed: bool = False  # paid on a schedule (salary, meals …): never moved by the year-end smoothing


def _types(*rows: tuple[str, str, str, str, str, int, int, int, str, str]) -> dict[str, PayType]:
    out = {}
    for key, dep, gov_admin, gov_inst, payee, median, sigma, max_yuan, options, purposes in rows:
        flags = options.split()
        mode = next((f for f in flags if f in ("card", "small")), "transfer")
        round_fen = next((int(f[1:]) for f in flags if f.startswith("r")), 1)
        out[key] = PayType(
            key,
            dep,
            gov_admin,
            gov_inst,
            tuple(purposes.split("/")),
            payee,
            median,
            sigma,
            max_yuan,
            mode,
            round_fen,
            "fixed" in flags,
        )
    return out


# fmt: off
#: key, departmental code, government code (行政 / 事业 payer), payee, median yuan, sigma‰, max yuan,
#: options (card, small, r<fen> rounding, fixed schedule), then the purposes
PAY_TYPES: dict[str, PayType] = _types(
    ("salary",            "30101", "50101", "50501", "payroll",          400_000,  600,  9_000_000, "fixed",
     "发放{y}年{pm}月工资"),
    ("office",            "30201", "50201", "50502", "office",             2_000,  800,     30_000, "small",
     "购买办公用品/购置打印纸、硒鼓等办公耗材/购买{n}箱A4打印纸/购买文件柜、档案盒等办公用品"),
    ("printing",          "30202", "50201", "50502", "printing",           4_000,  800,     60_000, "",
     "印制宣传资料/印刷{y}年工作手册/印制业务表单"),
    ("water",             "30205", "50201", "50502", "water",              2_500,  600,     60_000, "",
     "支付{y}年{m}月水费"),
    ("power",             "30206", "50201", "50502", "power",              8_000,  800,    300_000, "",
     "支付{y}年{m}月电费/支付{y}年{m}月水电费"),
    ("telecom",           "30207", "50201", "50502", "telecom",            2_000,  600,     50_000, "",
     "支付{y}年{m}月通信费/支付{y}年{m}月网络专线服务费"),
    ("property",          "30209", "50201", "50502", "property",          30_000,  600,    400_000, "",
     "支付{y}年第{q}季度物业管理费"),
    ("travel",            "30211", "50201", "50502", "hotel",              1_500,  600,      9_000, "card",
     "差旅费公务卡还款/公务出差住宿费/公务出差交通费"),
    ("repair",            "30213", "50209", "50502", "construction",       6_000,  800,     90_000, "r100",
     "办公楼维修费/办公用房维修改造费/屋面防水维修费/水电线路维修费"),
    ("equip_repair",      "30213", "50209", "50502", "equipment",          1_500,  800,     20_000, "",
     "空调维修费/电脑及打印机维修费/办公家具维修费"),
    ("meeting",           "30215", "50202", "50502", "hotel",             12_000,  600,     60_000, "",
     "召开{y}年{meeting}会议费"),
    ("training",          "30216", "50203", "50502", "hotel",             15_000,  600,     80_000, "",
     "{y}年{training}培训费"),
    ("teacher_training",  "30216", "50203", "50502", "training",          20_000,  600,     90_000, "",
     "{y}年教师培训费/教师全员培训费/班主任能力提升培训费"),
    ("reception",         "30217", "50206", "50502", "catering",             600,  600,      3_000, "card",
     "公务接待餐费"),
    ("labour",            "30226", "50201", "50502", "person",             3_000,  600,     30_000, "",
     "支付{y}年{m}月临时聘用人员劳务费/专家评审劳务费/支付课题评审劳务费"),
    ("entrust",           "30227", "50205", "50502", "consulting",        40_000,  800,    600_000, "",
     "委托第三方审计服务费/法律顾问服务费/信息系统运维服务费/档案数字化服务费"),
    ("car",               "30231", "50208", "50502", "auto",                 800,  600,      6_000, "card",
     "公务用车加油费/公务用车维修保养费/公务用车通行费"),
    ("equipment",         "31002", "50306", "50601", "equipment",         25_000,  800,    400_000, "r100",
     "购置办公设备/购置台式计算机{n}台/购置打印机{n}台/购置办公桌椅{n}套/购置空调{n}台/购折叠床{n}张"),
    ("materials_lab",     "30218", "50204", "50502", "equipment",          8_000,  800,    150_000, "",
     "购买实验器材/购买体育器材/购买教学用品"),
    ("materials_med",     "30218", "50204", "50502", "medical",           30_000, 1000,    900_000, "",
     "购买医用耗材/购买药品/购买检验试剂"),
    ("med_maintenance",   "30213", "50209", "50502", "medical",           20_000,  800,    300_000, "",
     "医疗设备维保费"),
    ("lab_outsourcing",   "30227", "50205", "50502", "medical",           15_000,  800,    200_000, "",
     "医学检验外送服务费"),
    ("school_repair",     "31006", "50307", "50601", "construction",     120_000, 1000,  3_000_000, "r100",
     "教学楼维修改造工程款/校舍维修工程进度款/学生宿舍改造工程款"),
    ("welfare_repair",    "31006", "50307", "50601", "construction",     100_000, 1000,  2_500_000, "r100",
     "养老服务设施改造工程款/供养服务设施维修工程款"),
    ("edu_equipment",     "31002", "50306", "50601", "equipment",         40_000,  800,    800_000, "r100",
     "购置学生课桌椅{n}套/购置多媒体教学设备/购置图书{n}00册"),
    ("med_equipment",     "31003", "50306", "50601", "medical",          150_000, 1000,  6_000_000, "r100",
     "购置彩超设备/购置DR设备/购置全自动生化分析仪/购置救护车载设备"),
    ("it",                "31007", "50306", "50601", "it",                80_000, 1000,  2_000_000, "r100",
     "购置信息化设备/业务系统软件升级改造"),
    ("it_service",        "30227", "50205", "50502", "it",                50_000,  800,    800_000, "",
     "信息系统运维服务费/网络安全等级保护测评费/数据中心运维服务费"),
    ("road",              "31005", "50302", "50601", "construction",     150_000, 1000,  8_000_000, "r100",
     "道路维修工程款/{village}村道路硬化工程款/农村公路养护工程款/桥梁维修加固工程进度款"),
    ("village_works",     "31005", "50302", "50601", "construction",      70_000, 1000,  2_000_000, "r100",
     "{village}村道路硬化工程款/{village}村排水沟渠工程款/{village}村文化广场建设工程款"),
    ("industry_works",    "31005", "50302", "50601", "construction",     120_000, 1000,  3_000_000, "r100",
     "{village}村产业发展项目工程款/{village}村冷库建设工程款/{village}村大棚建设工程进度款"),
    ("water_works",       "31005", "50302", "50601", "construction",     160_000, 1000,  6_000_000, "r100",
     "{village}村饮水安全工程款/河道清淤工程款/小型水库除险加固工程款"),
    ("farmland_works",    "31005", "50302", "50601", "construction",     220_000, 1000,  9_000_000, "r100",
     "高标准农田建设工程款/高标准农田建设工程进度款"),
    ("urban_works",       "31005", "50302", "50601", "construction",     200_000, 1000,  9_000_000, "r100",
     "排水管网改造工程款/老旧小区改造工程款/城市道路建设工程进度款"),
    ("supervision",       "30227", "50205", "50502", "consulting",        30_000,  800,    500_000, "",
     "工程监理费/工程造价咨询费/工程设计费"),
    ("agri_material",     "30218", "50204", "50502", "agri",              20_000,  800,    400_000, "",
     "购买农作物病虫害防治药剂/购买良种/购买苗木"),
    ("agri_service",      "30227", "50205", "50502", "agri",              30_000,  800,    500_000, "",
     "病虫害统防统治服务费/农机深松作业服务费/动物疫病强制免疫服务费"),
    ("agri_equipment",    "31003", "50306", "50601", "agri",              50_000,  800,    600_000, "r100",
     "购置农机具/购置检测设备"),
    ("env_service",       "30227", "50205", "50502", "environment",       60_000,  800,    900_000, "",
     "环境空气质量监测运维费/水质自动监测站运维费"),
    ("culture_service",   "30227", "50205", "50502", "printing",          20_000,  800,    300_000, "",
     "文化下乡演出服务费/公益电影放映服务费/非遗展演服务费"),
    ("health_service",    "30227", "50205", "50502", "medical",           40_000,  800,    600_000, "",
     "家庭医生签约服务费/健康体检服务费/慢性病筛查服务费"),
    ("skills_training",   "30227", "50205", "50502", "training",          40_000,  800,    600_000, "",
     "职业技能培训补贴/创业培训服务费"),
    ("meals",             "30299", "50299", "50502", "meals",             40_000,  800,  1_500_000, "fixed",
     "支付{y}年{m}月学生营养餐费"),
    ("soe_capital",       "31201", "50801", "50801", "soe",            8_000_000,  800, 90_000_000, "r10000",
     "{y}年国有企业资本金注入"),
    ("to_special_account", "31302", "51002", "51002", "fin_account", 900_000, 800, 30_000_000, "r100 fixed",
     "拨付{y}年{pm}月城乡居民基本医疗保险财政补助资金"),
    ("village_ops",       "39908", "59908", "59908", "village",           30_000,  400,    120_000, "r100",
     "拨付{village}村{y}年村级组织运转经费"),
)
# fmt: on
