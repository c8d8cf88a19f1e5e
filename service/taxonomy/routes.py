"""HTTP routes for the reference trees."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from service.auth.access import PUBLIC_READ
from service.deps import SessionDep
from service.taxonomy import service

router = APIRouter(prefix="/v1", tags=["taxonomy"])


@router.get("/categories", operation_id="listCategories", dependencies=[Depends(PUBLIC_READ)])
def list_categories(session: SessionDep) -> list[dict[str, Any]]:
    """Every category framework as a tree, with indicator counts per node."""
    return service.category_tree(session)


@router.get("/sectors", operation_id="listSectors", dependencies=[Depends(PUBLIC_READ)])
def list_sectors(session: SessionDep) -> list[dict[str, Any]]:
    return service.sector_list(session)


@router.get("/departments", operation_id="listDepartments", dependencies=[Depends(PUBLIC_READ)])
def list_departments(session: SessionDep) -> list[dict[str, Any]]:
    return service.department_list(session)
