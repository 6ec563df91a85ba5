"""Work that follows a load: derived tables brought up to date with what the load changed.

Runs after every load that changed something, and after one that found an earlier run interrupted (which
may have stopped between its last chunk and this step).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, func, select

from schema.models import MofDiv, RegionClosure


def rebuild_region_closure(conn: Connection) -> int:
    """Every (ancestor, descendant) pair of the region tree, from each region's ``parent_code``."""
    parents = dict(
        conn.execute(
            select(MofDiv.mof_div_code, MofDiv.parent_code).where(MofDiv.is_deleted.is_(False))
        ).all()
    )
    rows = []
    for code in parents:
        node, depth, seen = code, 0, set()
        while node is not None and node in parents and node not in seen:
            seen.add(node)
            rows.append({"ancestor": node, "descendant": code, "depth": depth})
            node, depth = parents[node], depth + 1
    conn.execute(delete(RegionClosure))
    if rows:
        conn.execute(RegionClosure.__table__.insert(), rows)
    return len(rows)


def after_load(engine: Engine, run_id: int, changed: set[str], *, force: bool) -> list[str]:
    """Bring derived tables up to date; returns what was done, for the report."""
    done: list[str] = []
    with engine.begin() as conn:
        empty = conn.execute(select(func.count()).select_from(RegionClosure)).scalar_one() == 0
        if force or empty or "mof_div" in changed:
            n = rebuild_region_closure(conn)
            done.append(f"region tree: {n} ancestor pairs")
    return done
