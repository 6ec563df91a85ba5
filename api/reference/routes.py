"""``/v1/classifications/{scheme}`` and ``/v1/sources``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import get_session
from api.reference.service import ClassificationList, Scheme, SourceStatus, classifications, sources

router = APIRouter(prefix="/v1", tags=["reference"])


@router.get(
    "/classifications/{scheme}",
    response_model=ClassificationList,
    summary="Government classification codes (政府收支分类科目) valid in a fiscal year",
)
def classification_codes(
    scheme: Scheme,
    session: Annotated[Session, Depends(get_session)],
    year: Annotated[int, Query(ge=2000, le=2100, description="Fiscal year")],
    parent: Annotated[
        str | None, Query(pattern=r"^\d{3,5}$", description="Only codes under this 类 or 款")
    ] = None,
    level: Annotated[int | None, Query(ge=1, le=3, description="1 类, 2 款, 3 项")] = None,
) -> ClassificationList:
    return classifications(session, scheme, year, parent, level)


@router.get("/sources", response_model=list[SourceStatus], summary="Last load of each source and its lag")
def source_status(session: Annotated[Session, Depends(get_session)]) -> list[SourceStatus]:
    return sources(session)
