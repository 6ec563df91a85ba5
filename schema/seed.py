"""Shipped reference data into the warehouse: regions (unless a feed sent them), classifications, codes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from schema.classification import Classification, CodeSet
from schema.models import MofDiv
from schema.reference import load_classifications, load_code_sets, load_regions


def seed_reference(engine: Engine) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        present = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
        rows = []
        for line, r in enumerate(load_regions(), start=2):
            if r.code in present:
                continue  # a region a feed loaded (or an earlier seed) stays as it is
            digest = hashlib.blake2b(
                f"{r.code}\x1f{r.name}\x1f{r.parent_code or ''}\x1f{r.level_no}".encode(), digest_size=16
            ).hexdigest()
            rows.append(
                {
                    "mof_div_code": r.code,
                    "mof_div_name": r.name,
                    "parent_code": r.parent_code,
                    "level_no": r.level_no,
                    "is_deleted": False,
                    "src_name": "reference",
                    "src_run_id": 0,
                    "src_file": "schema/reference/regions.csv",
                    "src_line": line,
                    "src_hash": digest,
                    "loaded_at": now,
                }
            )
        if rows:
            conn.execute(insert(MofDiv), rows)
        # classifications and code sets belong to the release: replaced whole, cheaply (a few thousand rows)
        conn.execute(delete(Classification))
        conn.execute(
            insert(Classification),
            [
                {
                    "scheme": c.scheme,
                    "code": c.code,
                    "first_year": c.first_year,
                    "last_year": c.last_year,
                    "name": c.name,
                    "level": c.level,
                }
                for c in load_classifications()
            ],
        )
        conn.execute(delete(CodeSet))
        conn.execute(
            insert(CodeSet),
            [
                {"code_set": s, "code": code, "name": name}
                for s, codes in load_code_sets().items()
                for code, name in codes.items()
            ],
        )
    if rows:
        from connectors.ingest.postload import rebuild_region_closure

        with engine.begin() as conn:
            rebuild_region_closure(conn)
