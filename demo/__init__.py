"""A realistic, deterministic demo province (Henan 河南省) in the canonical feed format, with anomalies.

``generate(out, scale=..., seed=...)`` writes one file per feed table, ``manifest.json`` and
``anomalies.jsonl`` (the ground truth of the planted warning-rule findings). Thresholds the plants rely on
live in ``monitor.thresholds``.
"""

from demo.generate import generate
from demo.scales import SCALES, ScaleSpec

__all__ = ["SCALES", "ScaleSpec", "generate"]
