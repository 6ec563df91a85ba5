"""How big a demo province is: every city and county at every scale; townships, units and volumes grow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    name: str
    rank: int  # 0 small, 1 medium, 2 province (programs and profiles with min_scale ≤ rank are used)
    payments: int  # pay_voucher rows over both fiscal years, approximately
    townships_per_county: int | None  # None: every township
    departments: tuple[int, int, int]  # departments per province / city / county
    units_per_department: tuple[int, int, int]  # budget units under each department, at most
    township_units: int  # 站所 per township besides its government
    leaves_per_region: int  # units of a region a transfer program is assigned to
    projects_per_unit: int  # specific-purpose projects per unit and year, at most
    payroll_pct: int  # share of units whose salaries go through treasury vouchers
    enterprises: int  # payee companies
    persons_annual: int  # 一卡通 recipients of an annual subsidy per township
    persons_monthly: int  # … of a monthly subsidy per township
    plants: int  # planted anomalies per rule (structural rules: at least a third of it)


# fmt: off
SCALES: dict[str, ScaleSpec] = {
    # name, rank, payments, townships/county, departments p/c/k, units per department p/c/k, township units,
    # leaves per region, projects per unit, payroll %, enterprises, persons annual/monthly, plants per rule
    "small": ScaleSpec("small", 0, 20_000, 1, (12, 8, 2), (1, 1, 1), 0, 1, 1, 8, 400, 12, 3, 4),
    "medium": ScaleSpec("medium", 1, 500_000, 5, (22, 14, 10), (4, 3, 2), 2, 2, 2, 30, 1_600, 30, 3, 40),
    "province": ScaleSpec("province", 2, 5_000_000, None, (24, 22, 16), (6, 4, 3), 3, 3, 3, 60, 4_000, 40, 4,
                          200),
}
# fmt: on

#: the most rows a worksheet can hold under its header row
XLSX_MAX_ROWS = 1_048_575
