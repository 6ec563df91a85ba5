"""The warning-rule catalogue (``spec/domain.md``), one module per group of rules.

Every rule's defaults come from :mod:`monitor.thresholds`, where the demo generator plants its anomalies
against the same figures. ``RULES`` is the catalogue in code order.
"""

from __future__ import annotations

from monitor.rule import Rule
from monitor.rules import accounts, allocation, payees, progress, quality, receipt, use

GROUP_ORDER = ("指标接收", "资金分配", "拨付进度", "资金使用", "账户管理", "收款人", "受益对象", "数据质量")
RULES: tuple[Rule, ...] = tuple(
    sorted(
        (
            *receipt.RULES,
            *allocation.RULES,
            *progress.RULES,
            *use.RULES,
            *accounts.RULES,
            *payees.RULES,
            *quality.RULES,
        ),
        key=lambda r: (GROUP_ORDER.index(r.group), r.code),
    )
)
BY_CODE = {r.code: r for r in RULES}
BY_KEY = {r.key: r for r in RULES}
