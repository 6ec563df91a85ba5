"""Scoring the warnings against a ground truth: the demo generator's planted anomalies (``anomalies.jsonl``).

A planted anomaly is found when a warning of its rule (matched by the rule's ``key``) concerns its primary
object (``object_ids[0]``), as the warning's primary or a related object; a unit (``agency``) is matched
within its region and fiscal year, since unit codes repeat across regions. A warning none of whose objects
is planted for its rule is *unplanted*: listed with its message, which says why it fired.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, select

from monitor.rules import BY_KEY, RULES
from schema.monitor import Warning, WarningObject


class TruthError(ValueError):
    """The truth file cannot be read or a line of it is not a planted anomaly."""


@dataclass(slots=True)
class Plant:
    rule: str
    object_type: str
    object_ids: list[str]
    region: str
    year: int
    note: str

    def matches(self, obj: tuple[str, str], region: str, year: int) -> bool:
        if self.object_type == "agency":
            return obj == ("agency", self.object_ids[0]) and region == self.region and year == self.year
        return obj[1] == self.object_ids[0]


@dataclass(slots=True)
class RuleScore:
    code: str
    key: str
    planted: int = 0
    found: int = 0
    missed: list[Plant] = field(default_factory=list)
    unplanted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recall(self) -> str:
        return "n/a" if not self.planted else f"{self.found * 100 // self.planted}%"


@dataclass(slots=True)
class Score:
    rules: list[RuleScore]
    unknown_rules: dict[str, int]  # planted under a rule key the catalogue does not have

    @property
    def planted(self) -> int:
        return sum(r.planted for r in self.rules)

    @property
    def found(self) -> int:
        return sum(r.found for r in self.rules)

    @property
    def complete(self) -> bool:
        return self.found == self.planted and not self.unknown_rules


def read_truth(path: Path) -> list[Plant]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise TruthError(f"cannot read {path}: {exc.strerror}") from None
    plants = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            plants.append(
                Plant(
                    rule=str(row["rule"]),
                    object_type=str(row["object_type"]),
                    object_ids=[str(i) for i in row["object_ids"]],
                    region=str(row["mof_div_code"]),
                    year=int(row["fiscal_year"]),
                    note=str(row.get("note", "")),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TruthError(f"{path}, line {number}: not a planted anomaly ({exc})") from None
        if not plants[-1].object_ids:
            raise TruthError(f"{path}, line {number}: object_ids is empty")
    return plants


def score(engine: Engine, plants: list[Plant]) -> Score:
    """Compare the open warnings in the ledger with ``plants``."""
    warnings: dict[int, dict[str, Any]] = {}
    objects: dict[int, list[tuple[str, str]]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(
            select(
                Warning.id,
                Warning.rule_code,
                Warning.object_type,
                Warning.object_id,
                Warning.mof_div_code,
                Warning.fiscal_year,
                Warning.message,
            ).where(Warning.cleared_at.is_(None))
        ):
            warnings[row.id] = dict(row._mapping)
        for wid, otype, oid in conn.execute(
            select(WarningObject.warning_id, WarningObject.object_type, WarningObject.object_id)
        ):
            if wid in warnings:
                objects[wid].append((otype, oid))
    by_rule: dict[str, list[int]] = defaultdict(list)
    for wid, w in warnings.items():
        by_rule[w["rule_code"]].append(wid)
    plants_by_key: dict[str, list[Plant]] = defaultdict(list)
    for p in plants:
        plants_by_key[p.rule].append(p)
    scores = []
    for rule in RULES:
        s = RuleScore(rule.code, rule.key)
        planted = plants_by_key.get(rule.key, [])
        s.planted = len(planted)
        explained: set[int] = set()
        for plant in planted:
            hits = [
                wid
                for wid in by_rule.get(rule.code, [])
                if any(
                    plant.matches(obj, warnings[wid]["mof_div_code"], warnings[wid]["fiscal_year"])
                    for obj in objects[wid]
                )
            ]
            if hits:
                s.found += 1
                explained.update(hits)
            else:
                s.missed.append(plant)
        planted_ids = {i for p in planted for i in p.object_ids}
        for wid in by_rule.get(rule.code, []):
            if wid in explained or any(
                oid in planted_ids for otype, oid in objects[wid] if otype != "agency"
            ):
                continue
            s.unplanted.append(warnings[wid])
        scores.append(s)
    unknown: dict[str, int] = defaultdict(int)
    for p in plants:
        if p.rule not in BY_KEY:
            unknown[p.rule] += 1
    return Score(scores, dict(unknown))
