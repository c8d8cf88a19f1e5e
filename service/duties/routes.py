"""HTTP routes for departments' duties (三定职责) and strategic goals (战略目标)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from service.auth.access import CATALOGUE_WRITE, DEPARTMENT_WRITE, READ
from service.deps import EntityId, SessionDep
from service.duties import service
from service.duties.schemas import DepartmentIn, MeasuredIn, MeasuredOut, MeasuredPatch
from service.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["departments"])


@router.post(
    "/departments",
    operation_id="createDepartment",
    dependencies=[Depends(CATALOGUE_WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
)
def create_department(data: DepartmentIn, session: SessionDep) -> dict[str, Any]:
    return service.create_department(session, data)


@router.get(
    "/departments/{code}/duties",
    operation_id="listDuties",
    dependencies=[Depends(READ)],
    response_model=list[MeasuredOut],
    responses=problem_responses(404),
)
def list_duties(code: str, session: SessionDep) -> list[MeasuredOut]:
    return service.list_items(session, code, "duty")


@router.post(
    "/departments/{code}/duties",
    operation_id="createDuty",
    dependencies=[Depends(DEPARTMENT_WRITE)],
    response_model=MeasuredOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 422),
)
def create_duty(code: str, data: MeasuredIn, session: SessionDep) -> MeasuredOut:
    return service.create_item(session, code, "duty", data)


@router.patch(
    "/duties/{duty_id}",
    operation_id="updateDuty",
    dependencies=[Depends(DEPARTMENT_WRITE)],
    response_model=MeasuredOut,
    responses=problem_responses(404, 422),
)
def update_duty(duty_id: EntityId, patch: MeasuredPatch, session: SessionDep) -> MeasuredOut:
    return service.update_item(session, "duty", duty_id, patch)


@router.delete(
    "/duties/{duty_id}",
    operation_id="deleteDuty",
    dependencies=[Depends(DEPARTMENT_WRITE)],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
def delete_duty(duty_id: EntityId, session: SessionDep) -> Response:
    service.delete_item(session, "duty", duty_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/departments/{code}/strategic-goals",
    operation_id="listStrategicGoals",
    dependencies=[Depends(READ)],
    response_model=list[MeasuredOut],
    responses=problem_responses(404),
)
def list_goals(code: str, session: SessionDep) -> list[MeasuredOut]:
    return service.list_items(session, code, "goal")


@router.post(
    "/departments/{code}/strategic-goals",
    operation_id="createStrategicGoal",
    dependencies=[Depends(DEPARTMENT_WRITE)],
    response_model=MeasuredOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 422),
)
def create_goal(code: str, data: MeasuredIn, session: SessionDep) -> MeasuredOut:
    return service.create_item(session, code, "goal", data)


@router.patch(
    "/strategic-goals/{goal_id}",
    operation_id="updateStrategicGoal",
    dependencies=[Depends(DEPARTMENT_WRITE)],
    response_model=MeasuredOut,
    responses=problem_responses(404, 422),
)
def update_goal(goal_id: EntityId, patch: MeasuredPatch, session: SessionDep) -> MeasuredOut:
    return service.update_item(session, "goal", goal_id, patch)


@router.delete(
    "/strategic-goals/{goal_id}",
    operation_id="deleteStrategicGoal",
    dependencies=[Depends(DEPARTMENT_WRITE)],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
def delete_goal(goal_id: EntityId, session: SessionDep) -> Response:
    service.delete_item(session, "goal", goal_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
