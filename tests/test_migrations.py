"""The migrations build exactly the schema the models declare, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select

from schema.classification import Classification, CodeSet
from schema.derived import include_object
from schema.migrate import current_revision, upgrade
from schema.models import MofDiv, RegionClosure, metadata


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": include_object}
        diffs = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    assert diffs == []


def test_upgrade_is_idempotent_and_seeds_reference_data(engine: Engine) -> None:
    upgrade(engine)  # a second time: nothing changes, nothing fails
    assert current_revision(engine) is not None
    with engine.connect() as conn:
        regions = conn.execute(select(func.count()).select_from(MofDiv)).scalar_one()
        henan = conn.execute(
            select(MofDiv.mof_div_name).where(MofDiv.mof_div_code == "410000000")
        ).scalar_one()
        zhengzhou_depth = conn.execute(
            select(RegionClosure.depth).where(
                RegionClosure.ancestor == "410000000", RegionClosure.descendant == "410102001"
            )
        ).scalar_one()
        assert conn.execute(select(func.count()).select_from(Classification)).scalar_one() > 1000
        assert (
            conn.execute(
                select(CodeSet.name).where(CodeSet.code_set == "fund_type_code", CodeSet.code == "2")
            ).scalar_one()
            == "政府性基金预算"
        )
    assert regions > 5000
    assert henan == "河南省"
    assert zhengzhou_depth == 3  # province → 郑州市 → 中原区 → 林山寨街道
