"""Parsing an upload happens before the write turn: a big workbook's parse stalls no other write.

Loose end of issue 14 (finding 3): bodies were read before the process-wide write turn, but the
file was parsed (format detection, reading every XLSX row) inside it, so an admin PATCH waited for
a 50 MB workbook's parse. Against the real service (uvicorn over a loopback socket): the upload's
parse takes seconds, the PATCH sent meanwhile is answered long before the upload is.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from openpyxl import Workbook

from tests.support.auth import bearer, mint_key
from tests.support.server import running

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROWS = 60_000  # a few seconds of parsing on this machine (about 2 s per 20 000 rows)
CELL_LIMIT = 10_000  # loaders.readers.ReadLimits.max_cell_chars


def _slow_workbook() -> bytes:
    """Many rows, then one whose cell is over the length limit: slow to read, refused as soon as read.

    The refusal keeps the part that rightly holds the turn (the import itself) to nothing, so what
    the PATCH could wait for is the parse alone.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["指标名称", "一级指标", "二级指标", "指标值", "计量单位", "指标解释"])
    for i in range(ROWS):
        ws.append([f"解析测试指标{i}", "产出指标", "数量指标", f"≥{i % 100}", "%", "按年度统计" * 4])
    ws.append(["末行", "产出指标", "数量指标", "1", "%", "长" * (CELL_LIMIT + 1)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def workbook() -> bytes:
    return _slow_workbook()


@pytest.fixture
def live(seeded_url: str) -> Iterator[tuple[str, str]]:
    token = mint_key(seeded_url, "admin")
    with running(seeded_url) as server:
        yield server.base, token


@pytest.mark.parametrize(
    "path", ["/v1/imports?dry_run=true", "/v1/proposals:import?title=big&department_code=PARSE"]
)
def test_a_patch_does_not_wait_for_an_uploads_parse(live: tuple[str, str], workbook: bytes, path: str) -> None:
    base, token = live
    with httpx.Client(base_url=base, headers=bearer(token), timeout=120) as client:
        assert client.post("/v1/departments", json={"code": "PARSE", "name": "解析测试厅"}).status_code == 201
        code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
        tag = client.get(f"/v1/indicators/{code}").headers["ETag"]
        upload: dict[str, object] = {}

        def send() -> None:
            r = client.post(path, content=workbook, headers={"Content-Type": XLSX})
            upload.update(status=r.status_code, body=r.json(), done=time.monotonic())

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)  # the body (about 1.5 MB over loopback) has arrived; its parse is under way
        began = time.monotonic()
        r = client.patch(f"/v1/indicators/{code}", json={"value": 7}, headers={"If-Match": tag})
        patched = time.monotonic()
        sender.join(120)
    assert r.status_code == 200, r.text
    # The functional check is the order: behind the write turn the PATCH was answered only after the
    # upload (5-6 s here before the fix); now it is answered while the parse still runs. How fast is not
    # asserted: the parse runs in a thread of the same process, and under CI the GIL's convoy effect
    # stretched a PATCH to 2-4 s (a parse in a worker process would remove that).
    assert "done" in upload, "the upload was not answered"
    assert float(upload["done"]) > patched, (  # type: ignore[arg-type]
        f"the PATCH ({patched - began:.1f} s) was answered after the upload: it queued behind the parse"
    )
    # The refusal is unchanged: 422 naming the cell's field and row; nothing imported or proposed.
    assert upload["status"] == 422, upload
    errors = upload["body"]["errors"]  # type: ignore[index]
    assert [(e["field"], e["row"]) for e in errors] == [("definition", ROWS + 2)]
