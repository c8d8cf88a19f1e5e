"""HTTP routes for import and export of the catalogue."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from loaders.writers import ExportProfile, write_csv, write_jsonl, write_xlsx
from service.auth.access import CATALOGUE_WRITE, READ
from service.deps import PastDep, SessionDep, StateDep, mark_body_read
from service.errors import FieldError, PayloadTooLarge, ValidationFailed, problem_responses
from service.imports import service
from service.security.headers import attachment

router = APIRouter(prefix="/v1", tags=["import-export"])

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "JSON array, NDJSON, CSV or XLSX — raw body, or multipart/form-data with a `file` part",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


async def read_upload(request: Request, limit: int) -> tuple[bytes, str | None, str | None]:
    """The uploaded file (raw body or multipart `file` part), its content type and name; 413 past ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The upload is larger than {limit} bytes")
    content_type = request.headers.get("content-type")
    if content_type and content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10, max_part_size=limit) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                message = "multipart upload needs a `file` part"
                raise ValidationFailed(message, errors=[FieldError(field="file", message=message)])
            data = await upload.read(limit + 1)
            return data, upload.content_type, upload.filename
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks), content_type, None


async def parsed_upload(request: Request, state: StateDep) -> service.ParsedUpload:
    """The upload read and parsed into rows — declared before a route's session, so before its write turn.

    The body is read (capped at ``max_upload_bytes``: 413) and the file parsed in the thread pool
    while the request holds no turn; only the writing itself waits for the other writers. Its access
    check has run by then (route-level dependencies come first), so only a caller allowed to write
    gets a file parsed.
    """
    limit = state.settings.max_upload_bytes
    data, content_type, filename = await read_upload(request, limit)
    if len(data) > limit:
        raise PayloadTooLarge(f"The upload is larger than {limit} bytes")
    mark_body_read(request)
    return await run_in_threadpool(service.parse_upload, data, content_type=content_type, filename=filename)


# Declare it before ``SessionDep``: FastAPI solves a route's dependencies in the order they are declared.
UploadDep = Annotated[service.ParsedUpload, Depends(parsed_upload)]


@router.post(
    "/imports",
    operation_id="importIndicators",
    dependencies=[Depends(CATALOGUE_WRITE)],
    openapi_extra=UPLOAD_BODY,
    responses=problem_responses(413, 415, 422),
)
async def import_indicators(
    upload: UploadDep,
    session: SessionDep,
    dry_run: bool = False,
    reason: Annotated[
        str | None, Query(max_length=2000, description="why (recorded in the revisions and the audit trail)")
    ] = None,
) -> dict[str, Any]:
    """All-or-nothing import; the report counts created/updated/unchanged rows and lists row errors."""
    report = await run_in_threadpool(service.import_upload, session, upload, dry_run=dry_run, reason=reason)
    return report.as_dict()


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"


_MEDIA = {
    ExportFormat.jsonl: "application/x-ndjson",
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    "/exports",
    operation_id="exportIndicators",
    dependencies=[Depends(READ)],
    response_class=Response,
    responses=problem_responses(404, 422),
)
def export_indicators(
    session: SessionDep,
    format: ExportFormat = ExportFormat.jsonl,
    profile: ExportProfile = ExportProfile.canonical,
    include_retired: Annotated[bool, Query()] = True,
    *,
    past: PastDep,
) -> Response:
    """The catalogue as JSONL, CSV or XLSX; ``profile=platform`` uses the platform's column codes.

    Today's catalogue, or with ``release`` / ``as_of`` the one frozen in a release or in force at the end of a day.
    """
    if past.asked:
        rows = list(
            service.export_rows_at(
                session, release=past.release, as_of=past.as_of, include_retired=include_retired
            )
        )
    else:
        rows = list(service.export_rows(session, include_retired=include_retired))
    if format is ExportFormat.jsonl:
        body = b"".join(write_jsonl(rows))
    elif format is ExportFormat.csv:
        body = write_csv(rows, profile=profile)
    else:
        body = write_xlsx(rows, profile=profile)
    stamp = past.release or (past.as_of or date.today()).strftime("%Y%m%d")
    filename = f"indicators-{stamp}-{profile.value}.{format.value}"
    return Response(
        body, media_type=_MEDIA[format], headers={"Content-Disposition": attachment(filename)}
    )
