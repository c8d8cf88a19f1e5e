"""Soak of mixed traffic against the real service: per-route p50/p99, errors, memory over time (#8, item 7).

``python -m bench.soak --minutes 10 [--connections N] [--extra N] [--results]``; short runs: ``--seconds 30``.

**Service.** As a deployment on this 2-core machine runs it: ``uvicorn service.asgi:app --workers 2
--no-access-log`` on loopback, over a fresh copy of the seeded SQLite catalogue (``prepare_database(seed=True)``),
plus ``--extra N`` generated indicators (``bench/generate.py``, loaded with ``python -m service.cli load``).
``CATALOG_SUGGEST_RATE_PER_MINUTE=0``: one key drives all suggestions, and the per-key limit would
otherwise measure itself. Two keys are minted: ``platform`` (reads, suggestions, targets — the integrated
finance platform) and ``steward`` (the edits).

**Mix** (shares of the planned requests; codes, names, facet values and legal-basis ids are read from the
running catalogue at start-up):

=======================================================  =====  ========================================
route                                                    share  what
=======================================================  =====  ========================================
``GET /v1/indicators?q=…``                               25 %   Chinese words, catalogue names, 2–4
                                                                character fragments of names
``GET /v1/indicators?q=…&<facet>=…``                     10 %   the same with one facet filter (sector,
                                                                department, level 1/2 or kind)
``POST /v1/suggestions``                                 30 %   target sentences (``bench.suggest_bench
                                                                .queries``: the dev set's texts, then
                                                                generated ones; half with department
                                                                and sector), all distinct in a plan
``GET /v1/indicators/{code}``                            12 %   any code (+ the re-reads of the writers)
``GET /v1/indicators/{code}/history``                     7 %   any code
``GET /v1/legal-bases/{id}/impact``                       5 %   2/3 bases that carry indicators
``GET /v1/changes``                                       6 %   2/3 a follower (``after=`` its cursor),
                                                                1/3 a new consumer's first page
``PATCH /v1/indicators/{code}`` with ``If-Match``         3 %   a pool of 40 codes shared by every
                                                                connection, so edits race: a 412 makes
                                                                the writer re-read the ETag and retry
                                                                (twice at most); 412s are counted apart
``POST /v1/targets``                                      2 %   a new target each time, 1–3 rows
=======================================================  =====  ========================================

**Load generator.** ``wrk`` (Debian package) with the Lua script below, one connection per wrk thread:
each thread walks its share of a pre-built, shuffled plan (``--plan-size`` lines). One connection per
thread is what makes per-route figures possible: wrk never tells the ``response`` hook which request a
response answers, but on a thread with a single connection and no pipelining the answer always belongs
to the request that thread sent last. The script stamps each request with ``CLOCK_MONOTONIC`` (LuaJIT
FFI) in ``request()`` — where wrk starts its own clock — and writes one line per response (route, status,
microseconds) to a per-thread file in ``response()``; Python reads the files and computes exact p50/p99 per
route. A request still unanswered when a connection is re-opened (transport error) is logged with status
0; one in flight at the end for longer than ``--timeout`` counts as a timeout. Without wrk (or with
``--client python``), processes of threads with keep-alive ``http.client`` connections follow the same
plan and rules and write the same files; it costs more CPU per request than wrk, so it serves the CI short
form (``tests/bench/test_soak_short.py``, which runs everywhere; it checks the wrk path too where wrk is
installed), not the figures.

**Saturation.** Unless ``--connections`` is given, ``--levels`` (4 8 16 32) are each run for
``--calibrate-seconds`` first; the soak uses the smallest level within 5 % of the best rate (more
connections past that only queue). The load generator shares the two cores with the server.

**Errors.** Any non-2xx answer, transport failure or answer slower than ``--timeout`` (10 s), except a 412
on the PATCH route (the expected outcome of a lost race), counted apart.

**Memory.** The sum of the RSS (``/proc/<pid>/statm``) of the uvicorn master and all its descendants (the
workers), sampled every ``--sample-every`` seconds: after start-up (idle), at the start of the soak
(after warm-up and calibration), at its end and the maximum, with the anonymous/file split at start and
end (``/proc/<pid>/status``: heaps vs. code and SQLite's mmap); flatness is the least-squares slope in
MB/min over the second half of the soak. The service's caches are bounded LRUs (jieba runs, analysed
queries, units) that fill with the first minutes of distinct texts, hence the second half. Each
connection walks its share of the plan round and round, so past ``--plan-size`` requests inputs repeat.

Prints a JSON summary and a Markdown table; ``--results`` appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from service.suggest.catalogue import field_of

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "RESULTS.md"

MIX: dict[str, float] = {
    "search": 0.25,
    "search_facet": 0.10,
    "suggest": 0.30,
    "indicator": 0.12,
    "history": 0.07,
    "impact": 0.05,
    "changes": 0.06,
    "patch": 0.03,
    "targets": 0.02,
}
ROUTES: dict[str, str] = {
    "search": "GET /v1/indicators?q=…",
    "search_facet": "GET /v1/indicators?q=…&facet=…",
    "suggest": "POST /v1/suggestions",
    "indicator": "GET /v1/indicators/{code}",
    "history": "GET /v1/indicators/{code}/history",
    "impact": "GET /v1/legal-bases/{id}/impact",
    "changes": "GET /v1/changes",
    "patch": "PATCH /v1/indicators/{code}",
    "targets": "POST /v1/targets",
}
WRITE_CONFLICT = ("patch", 412)  # the one non-2xx answer that is an expected outcome, not an error
PATCH_POOL = 40
MAX_RETRIES = 2

WORDS = (
    "满意度", "覆盖率", "完成率", "合格率", "及时率", "培训", "资金", "饮水", "接种", "公路", "养护",
    "学生资助", "检疫", "口岸", "垃圾", "就业", "医疗", "科研", "论文", "专利", "旅游", "文化", "防疫",
    "林业", "水土保持", "救助", "优抚", "筛查", "预算执行率", "群众满意度", "项目按期完成率",
    "设备验收合格率", "政府采购", "气象", "全民健身", "农村", "水质", "服务对象满意度", "安全", "监测",
)  # fmt: skip


# --- the service -----------------------------------------------------------------------------------


@dataclass
class Service:
    """The running service: where it listens, its process group leader, its log and the bench keys."""

    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    platform_token: str
    steward_token: str

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mint(url: str, role: str, owner: str) -> str:
    from sqlmodel import Session

    from service.auth.principal import Role
    from service.auth.schemas import KeyIn
    from service.auth.service import create_key
    from service.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            created = create_key(session, KeyIn(owner=owner, role=Role(role)), created_by="bench.soak")
            session.commit()
            return created.token
    finally:
        engine.dispose()


def _prepare(workdir: Path, extra: int, env: Mapping[str, str]) -> tuple[str, str]:
    """A fresh seeded catalogue (+ ``extra`` generated indicators); returns the platform and steward keys."""
    from bench.generate import generate_indicators
    from service.bootstrap import prepare_database
    from service.db import make_engine

    engine = make_engine(env["CATALOG_DATABASE_URL"])
    prepare_database(engine, seed=True)
    engine.dispose()
    if extra:
        data = workdir / "generated.jsonl"
        with data.open("w", encoding="utf-8") as fh:
            for row in generate_indicators(extra, seed=7):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        subprocess.run(
            [sys.executable, "-m", "service.cli", "load", str(data)],
            env=dict(env), cwd=REPO_ROOT, check=True, capture_output=True,
        )  # fmt: skip
    url = env["CATALOG_DATABASE_URL"]
    return _mint(url, "platform", "soak-platform"), _mint(url, "steward", "soak-steward")


def _wait_ready(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"the service exited ({service.proc.returncode}); see {service.log}")
        try:
            with urllib.request.urlopen(f"{service.base}/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the service did not become ready in {timeout} s; see {service.log}")


@contextmanager
def serve(
    workdir: Path, *, extra: int = 0, workers: int = 2, ready_timeout: float = 300
) -> Iterator[Service]:
    """Prepare a catalogue in ``workdir`` and run uvicorn with ``workers`` on it; stop it afterwards."""
    env = {
        **os.environ,
        "CATALOG_DATABASE_URL": f"sqlite:///{workdir / 'soak.db'}",
        "CATALOG_SEED": "true",
        "CATALOG_SUGGEST_RATE_PER_MINUTE": "0",
    }
    platform_token, steward_token = _prepare(workdir, extra, env)
    port = _free_port()
    log = workdir / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
            env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    service = Service("127.0.0.1", port, proc, log, platform_token, steward_token)
    try:
        _wait_ready(service, ready_timeout)
        yield service
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the session started for it: master and workers
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- memory ----------------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and parentheses
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def tree_kinds_mb(root: int) -> dict[str, float]:
    """RSS of the tree split by kind: ``anon`` (heaps: caches, leaks) and ``file`` (code, SQLite's mmap)."""
    kinds = {"anon": 0.0, "file": 0.0, "shmem": 0.0}
    for pid in process_tree(root):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                kinds[key[3:].lower()] += int(value.split()[0]) / 1024
    return {k: round(v, 1) for k, v in kinds.items()}


def tree_rss_mb(root: int) -> tuple[float, dict[int, float]]:
    per: dict[int, float] = {}
    for pid in process_tree(root):
        try:
            per[pid] = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
        except (OSError, IndexError, ValueError):
            continue
    return sum(per.values()), per


class MemorySampler(threading.Thread):
    """Samples the server's RSS every ``every`` seconds until stopped; ``samples`` are (monotonic s, MB)."""

    def __init__(self, root: int, every: float) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.samples: list[tuple[float, float]] = []
        self._stop_event = threading.Event()

    def sample(self) -> float:
        mb, _ = tree_rss_mb(self.root)
        self.samples.append((time.monotonic(), mb))
        return mb

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


def slope_mb_per_min(samples: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of MB over minutes."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var * 60


# --- the plan --------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """What the plan picks from, read from the running service."""

    codes: list[str]
    names: list[str]
    facets: dict[str, list[str]]
    bases_with_indicators: list[int]
    bases: list[int]
    departments: list[str]
    # Sector names, codes and families the service knows: a suggestion naming another is a 422 since
    # issue 15, which would count as an error here.
    sectors: frozenset[str] = frozenset()


def _get_json(service: Service, path: str) -> Any:
    request = urllib.request.Request(
        service.base + path, headers={"Authorization": f"Bearer {service.platform_token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.load(r)


def discover(service: Service, *, max_codes: int = 20_000) -> Catalogue:
    codes: list[str] = []
    names: list[str] = []
    facets: dict[str, list[str]] = {}
    cursor: str | None = None
    while len(codes) < max_codes:
        query = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = _get_json(service, "/v1/indicators?" + urllib.parse.urlencode(query))
        if not facets:
            facets = {
                k: [v for v, n in counts.items() if n] for k, counts in page["facets"].items()
                if k in ("sector", "department", "level1", "level2", "kind")
            }  # fmt: skip
        codes += [item["code"] for item in page["items"]]
        names += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor or not page["items"]:
            break
    bases = _get_json(service, "/v1/legal-bases")["items"]
    departments = _get_json(service, "/v1/departments")
    sectors = _get_json(service, "/v1/sectors")
    known = {s["name"] for s in sectors} | {s["code"] for s in sectors}
    known |= {f for s in sectors if (f := field_of(s["name"]))}
    return Catalogue(
        codes=codes,
        names=sorted(set(names)),
        facets={k: v for k, v in facets.items() if v},
        bases_with_indicators=[b["id"] for b in bases if b.get("indicator_count")],
        bases=[b["id"] for b in bases],
        departments=[d["name"] for d in departments],
        sectors=frozenset(known),
    )


@dataclass(frozen=True)
class Planned:
    label: str
    method: str
    path: str
    flag: str = ""  # "tail": a change-feed follower, continues after its last cursor
    code: str = ""  # the indicator a read or an edit is about (ETags are kept per code)
    body: str = ""

    def line(self) -> str:
        return "\t".join((self.label, self.method, self.path, self.flag, self.code, self.body))


def _quote(code: str) -> str:
    return urllib.parse.quote(code, safe="")


def _search_term(rng: random.Random, names: Sequence[str]) -> str:
    roll = rng.random()
    if roll < 0.4 or not names:
        return rng.choice(WORDS)
    name = rng.choice(names)
    if roll < 0.7 or len(name) <= 4:
        return name[:60]
    size = rng.randint(2, 4)
    start = rng.randrange(len(name) - size + 1)
    return name[start : start + size]


def build_plan(catalogue: Catalogue, n: int, *, seed: int = 8) -> list[Planned]:
    """``n`` requests in the proportions of ``MIX``, shuffled."""
    from bench.generate import generate_indicators
    from bench.suggest_bench import queries

    rng = random.Random(seed)
    labels = [label for label, share in MIX.items() for _ in range(max(1, round(share * n)))]
    rng.shuffle(labels)
    wanted = labels.count("suggest") + labels.count("targets")  # a target carries a sentence too
    texts = iter(queries(list(generate_indicators(2000, seed=7)), wanted, seed=seed))
    patch_pool = rng.sample(catalogue.codes, min(PATCH_POOL, len(catalogue.codes)))
    plan: list[Planned] = []
    for label in labels:
        if label in ("search", "search_facet"):
            params: dict[str, str | int] = {"q": _search_term(rng, catalogue.names)}
            if label == "search_facet" and catalogue.facets:
                facet = rng.choice(sorted(catalogue.facets))
                params[facet] = rng.choice(catalogue.facets[facet])
            params["limit"] = rng.choice((20, 20, 20, 50))
            plan.append(Planned(label, "GET", "/v1/indicators?" + urllib.parse.urlencode(params)))
        elif label == "suggest":
            q = next(texts)
            sector = q.sector if q.sector in catalogue.sectors or field_of(q.sector) in catalogue.sectors else None
            body = {"text": q.text, "department": q.department, "sector": sector}
            payload = json.dumps({k: v for k, v in body.items() if v}, ensure_ascii=False)
            plan.append(Planned(label, "POST", "/v1/suggestions", body=payload))
        elif label in ("indicator", "history"):
            code = rng.choice(catalogue.codes)
            suffix = "/history" if label == "history" else ""
            plan.append(Planned(label, "GET", f"/v1/indicators/{_quote(code)}{suffix}", code=code))
        elif label == "impact":
            pool = (
                catalogue.bases_with_indicators
                if catalogue.bases_with_indicators and rng.random() < 2 / 3
                else catalogue.bases
            )
            plan.append(Planned(label, "GET", f"/v1/legal-bases/{rng.choice(pool)}/impact?limit=50"))
        elif label == "changes":
            flag = "tail" if rng.random() < 2 / 3 else ""
            plan.append(Planned(label, "GET", "/v1/changes?limit=100", flag=flag))
        elif label == "patch":
            code = rng.choice(patch_pool)
            plan.append(Planned(label, "PATCH", f"/v1/indicators/{_quote(code)}", code=code))
        else:  # targets: the connection replaces __EXT__ by an id of its own, so each POST creates one
            rows = [
                {"code": c, "comparator": "≥", "value": rng.choice((90, 95, 100)), "unit": "%"}
                for c in rng.sample(catalogue.codes, rng.randint(1, 3))
            ]
            target: dict[str, Any] = {
                "external_id": "__EXT__", "fiscal_year": 2026, "project": "压测项目",
                "text": next(texts).text, "indicators": rows,
            }  # fmt: skip
            if catalogue.departments and rng.random() < 0.5:
                target["department"] = rng.choice(catalogue.departments)
            plan.append(Planned(label, "POST", "/v1/targets", body=json.dumps(target, ensure_ascii=False)))
    return plan


def write_plan(plan: Sequence[Planned], path: Path) -> None:
    path.write_text("".join(p.line() + "\n" for p in plan), encoding="utf-8")


def read_plan(path: Path, *, share: int, of: int) -> list[Planned]:
    """The lines of ``path`` whose index is ``share`` modulo ``of`` (one connection's part of the plan)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if k % of == share:
                label, method, path_, flag, code, body = line.rstrip("\n").split("\t")
                out.append(Planned(label, method, path_, flag, code, body))
    return out


# --- load generators -------------------------------------------------------------------------------

# Line formats of the per-connection logs, shared by both clients:
#   "<label>\t<status>\t<microseconds>"   a response (status 0: no response, the connection failed)
#   ">\t<label>\t<monotonic µs>"          a request sent (wrk only: finds one left unanswered at the end)
WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk_id, soak_timespec *tp);
]]
local ts = ffi.new("soak_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC, the clock of Python's time.monotonic()
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local plan, n, pos = {}, 0, 0
local log, pending, queue = nil, nil, {}
local etags, cursor, serial = {}, nil, 0
local platform, steward, run = "", "", ""
local verifying = false

local function split(line)
  local f = {}
  for part in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = part end
  return f
end

function init(args)
  local threads = tonumber(args[3])
  local k = 0
  for line in io.lines(args[1]) do
    if k % threads == id then
      local f = split(line)
      n = n + 1
      plan[n] = {label = f[1], method = f[2], path = f[3], flag = f[4], code = f[5], body = f[6], retries = 0}
    end
    k = k + 1
  end
  local fh = io.open(args[4])
  platform, steward = fh:read("*a"):match("^(%S+)%s+(%S+)")
  fh:close()
  run = args[5]
  pos = 0
  log = io.open(args[2] .. "/conn-" .. id .. ".tsv", "w")
  log:setvbuf("line")
  -- wrk calls request() once on thread 0 to check it before the run: that one is not sent
  verifying = (id == 0)
end

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function send(r)
  local headers = {["Authorization"] = "Bearer " .. (r.label == "patch" and steward or platform)}
  local path, body = r.path, nil
  if r.label == "patch" then
    serial = serial + 1
    headers["If-Match"] = etags[r.code]
    body = '{"definition":"压测修订 ' .. run .. "-" .. id .. "-" .. serial .. '"}'
  elseif r.label == "targets" then
    serial = serial + 1
    body = r.body:gsub("__EXT__", "soak-" .. run .. "-" .. id .. "-" .. serial)
  elseif r.body ~= "" then
    body = r.body
  end
  if body then headers["Content-Type"] = "application/json" end
  if r.flag == "tail" and cursor then path = path .. "&after=" .. encode(cursor) end
  pending = {r = r, t0 = now_us()}
  log:write(">\t", r.label, "\t", string.format("%d", pending.t0), "\n")
  return wrk.format(r.method, path, headers, body)
end

function request()
  if verifying then
    verifying = false
    return wrk.format("GET", "/health")
  end
  if pending then  -- no response came: the connection failed and wrk opened a new one
    log:write(pending.r.label, "\t0\t", string.format("%d", now_us() - pending.t0), "\n")
    pending = nil
  end
  local r = table.remove(queue, 1)
  if not r then
    pos = pos % n + 1
    r = plan[pos]
  end
  if r.label == "patch" and not etags[r.code] then
    table.insert(queue, 1, r)  -- read the ETag first, then edit
    return send({label = "indicator", method = "GET", path = r.path, flag = "", code = r.code, body = "",
                 before_patch = true})
  end
  return send(r)
end

function response(status, headers, body)
  local p = pending
  if not p then return end
  pending = nil
  local r = p.r
  log:write(r.label, "\t", status, "\t", string.format("%d", now_us() - p.t0), "\n")
  if r.code ~= "" then
    local tag = headers["etag"] or headers["ETag"]
    if status == 200 and tag then etags[r.code] = tag end
    if r.before_patch and status ~= 200 then table.remove(queue, 1) end
    if r.label == "patch" and status == 412 then
      etags[r.code] = nil
      if r.retries < MAX_RETRIES then
        table.insert(queue, 1, {label = r.label, method = r.method, path = r.path, flag = r.flag,
                                code = r.code, body = r.body, retries = r.retries + 1})
      end
    end
  end
  if r.flag == "tail" and status == 200 then
    cursor = body:match('"next_cursor":%s*"([^"]+)"') or cursor
  end
end
""".replace("MAX_RETRIES", str(MAX_RETRIES))


@dataclass
class Run:
    """One load run: where its logs are and how long it lasted."""

    client: str
    connections: int
    seconds: float
    logdir: Path
    ended_at: float  # time.monotonic() when the load stopped
    wrk: dict[str, Any] = field(default_factory=dict)


def _run_id(logdir: Path) -> str:
    """Unique per run (``runs-<ns>/<phase>``): the targets it creates get ids of their own."""
    return f"{logdir.parent.name.removeprefix('runs-')}.{logdir.name}"


def _write_tokens(service: Service, workdir: Path) -> Path:
    path = workdir / "tokens"
    path.write_text(f"{service.platform_token}\n{service.steward_token}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def run_wrk(
    service: Service, plan: Path, *, connections: int, seconds: int, logdir: Path, timeout: float
) -> Run:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    logdir.mkdir(parents=True)
    script = logdir.parent / "soak.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    tokens = _write_tokens(service, logdir.parent)
    command = [wrk, f"-t{connections}", f"-c{connections}", f"-d{seconds}s", f"--timeout={max(1, round(timeout))}s",
               "-s", str(script), service.base, "--", str(plan), str(logdir), str(connections), str(tokens),
               _run_id(logdir)]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 120).stdout
    return Run("wrk", connections, _wrk_seconds(out) or seconds, logdir, time.monotonic(), _parse_wrk(out))


def _wrk_seconds(out: str) -> float | None:
    for line in out.splitlines():
        if "requests in" in line:
            value = line.split("requests in", 1)[1].split(",", 1)[0].strip()
            for unit, factor in (("ms", 0.001), ("us", 1e-6), ("m", 60.0), ("s", 1.0)):
                if value.endswith(unit):
                    return float(value[: -len(unit)]) * factor
    return None


def _parse_wrk(out: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            found["rps"] = float(parts[1])
        elif "requests in" in line:
            found["requests"] = int(parts[0])
        elif line.strip().startswith("Socket errors:"):
            found["socket_errors"] = line.split(":", 1)[1].strip()
        elif line.strip().startswith("Non-2xx"):
            found["non_2xx_or_3xx"] = int(parts[-1])
    return found


class Driver:
    """The Python client's copy of the Lua script's rules: plan order, ETags, re-reads, cursor."""

    def __init__(self, plan: Sequence[Planned], *, conn: int, run: str, tokens: tuple[str, str]) -> None:
        self.plan, self.conn, self.run = plan, conn, run
        self.platform, self.steward = tokens
        self.pos = -1
        self.queue: list[tuple[Planned, int]] = []
        self.etags: dict[str, str] = {}
        self.cursor: str | None = None
        self.serial = 0

    def next(self) -> tuple[Planned, int, bool, dict[str, str], bytes | None, str]:
        """The next request: (planned, retries, before_patch, headers, body, path)."""
        if self.queue:
            planned, retries = self.queue.pop(0)
        else:
            self.pos = (self.pos + 1) % len(self.plan)
            planned, retries = self.plan[self.pos], 0
        if planned.label == "patch" and planned.code not in self.etags:
            self.queue.insert(0, (planned, retries))
            read = Planned("indicator", "GET", planned.path, code=planned.code)
            return read, 0, True, self._headers(read), None, read.path
        body: str | None = planned.body or None
        if planned.label in ("patch", "targets"):
            self.serial += 1
            tag = f"{self.run}-{self.conn}-{self.serial}"
            body = (
                f'{{"definition":"压测修订 {tag}"}}'
                if planned.label == "patch"
                else planned.body.replace("__EXT__", f"soak-{tag}")
            )
        headers = self._headers(planned)
        if planned.label == "patch":
            headers["If-Match"] = self.etags[planned.code]
        if body is not None:
            headers["Content-Type"] = "application/json"
        path = planned.path
        if planned.flag == "tail" and self.cursor:
            path += "&after=" + urllib.parse.quote(self.cursor, safe="")
        return planned, retries, False, headers, body.encode() if body is not None else None, path

    def _headers(self, planned: Planned) -> dict[str, str]:
        token = self.steward if planned.label == "patch" else self.platform
        return {"Authorization": f"Bearer {token}"}

    def answered(
        self, planned: Planned, retries: int, before_patch: bool, status: int, etag: str | None, body: bytes
    ) -> None:
        if planned.code:
            if status == 200 and etag:
                self.etags[planned.code] = etag
            if before_patch and status != 200:
                self.queue.pop(0)
            if planned.label == "patch" and status == 412:
                self.etags.pop(planned.code, None)
                if retries < MAX_RETRIES:
                    self.queue.insert(0, (planned, retries + 1))
        if planned.flag == "tail" and status == 200:
            self.cursor = json.loads(body).get("next_cursor") or self.cursor


@dataclass(frozen=True)
class _Job:
    host: str
    port: int
    plan: str
    conns: tuple[int, ...]
    of: int
    tokens: tuple[str, str]
    run: str
    begin: float  # time.monotonic() at which every connection starts (spawned processes need a moment)
    deadline: float
    timeout: float
    logdir: str


def _python_connection(job: _Job, conn: int) -> None:
    driver = Driver(
        read_plan(Path(job.plan), share=conn, of=job.of), conn=conn, run=job.run, tokens=job.tokens
    )
    client = http.client.HTTPConnection(job.host, job.port, timeout=job.timeout)
    time.sleep(max(0.0, job.begin - time.monotonic()))
    with open(Path(job.logdir) / f"conn-{conn}.tsv", "w", encoding="utf-8") as log:
        while time.monotonic() < job.deadline:
            planned, retries, before_patch, headers, body, path = driver.next()
            t0 = time.monotonic_ns()
            try:
                client.request(planned.method, path, body=body, headers=headers)
                response = client.getresponse()
                data = response.read()
                status, etag = response.status, response.getheader("etag")
            except (OSError, http.client.HTTPException):
                client.close()
                client = http.client.HTTPConnection(job.host, job.port, timeout=job.timeout)
                status, etag, data = 0, None, b""
            log.write(f"{planned.label}\t{status}\t{(time.monotonic_ns() - t0) // 1000}\n")
            if status:
                driver.answered(planned, retries, before_patch, status, etag, data)
    client.close()


def _python_process(job: _Job) -> None:
    threads = [threading.Thread(target=_python_connection, args=(job, c)) for c in job.conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_python(
    service: Service,
    plan: Path,
    *,
    connections: int,
    seconds: float,
    logdir: Path,
    timeout: float,
    processes: int = 2,
) -> Run:
    """Processes of threads, one keep-alive connection per thread (spawned: safe under pytest too)."""
    logdir.mkdir(parents=True)
    processes = max(1, min(processes, connections))
    begin = time.monotonic() + 2.0  # the processes need a moment to start (spawn imports this module)
    jobs = [
        _Job(service.host, service.port, str(plan), tuple(range(p, connections, processes)), connections,
             (service.platform_token, service.steward_token), _run_id(logdir), begin, begin + seconds, timeout, str(logdir))
        for p in range(processes)
    ]  # fmt: skip
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        for future in [pool.submit(_python_process, job) for job in jobs]:
            future.result()
    ended = time.monotonic()
    return Run("python", connections, ended - begin, logdir, ended)


# --- analysis --------------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class RouteStats:
    requests: int = 0
    ok: int = 0
    conflicts: int = 0  # 412 on the write path
    errors: int = 0
    transport: int = 0
    slow: int = 0  # answered after the timeout, or unanswered that long at the end
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


def analyse(run: Run, *, timeout: float) -> dict[str, Any]:
    routes = {label: RouteStats() for label in MIX}
    in_flight_at_end = 0
    for path in sorted(run.logdir.glob("conn-*.tsv")):
        sent: tuple[str, int] | None = None
        for line in path.read_text(encoding="utf-8").splitlines():
            a, b, c = line.split("\t")
            if a == ">":
                sent = (b, int(c))
                continue
            sent = None
            stats = routes[a]
            status, ms = int(b), int(c) / 1000
            stats.requests += 1
            stats.statuses[status] += 1
            if status == 0:
                stats.transport += 1
                stats.errors += 1
                continue
            stats.latencies_ms.append(ms)
            if ms > timeout * 1000:
                stats.slow += 1
                stats.errors += 1
            elif 200 <= status < 300:
                stats.ok += 1
            elif (a, status) == WRITE_CONFLICT:
                stats.conflicts += 1
            else:
                stats.errors += 1
        if sent is not None:
            in_flight_at_end += 1
            if run.ended_at * 1e6 - sent[1] > timeout * 1e6:
                routes[sent[0]].requests += 1
                routes[sent[0]].slow += 1
                routes[sent[0]].errors += 1
    per_route: dict[str, Any] = {}
    everything: list[float] = []
    for label, stats in routes.items():
        ordered = sorted(stats.latencies_ms)
        everything += ordered
        per_route[label] = {
            "route": ROUTES[label],
            "requests": stats.requests,
            "ok": stats.ok,
            "conflicts_412": stats.conflicts,
            "errors": stats.errors,
            "transport_errors": stats.transport,
            "timeouts": stats.slow,
            "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
            "p50_ms": round(percentile(ordered, 50), 2) if ordered else None,
            "p99_ms": round(percentile(ordered, 99), 2) if ordered else None,
            "max_ms": round(ordered[-1], 2) if ordered else None,
        }
    everything.sort()
    answered = len(everything)
    return {
        "client": run.client,
        "connections": run.connections,
        "seconds": round(run.seconds, 2),
        "requests": sum(s.requests for s in routes.values()),
        "answered": answered,
        "rps": round(answered / run.seconds, 1) if run.seconds else 0.0,
        "errors": sum(s.errors for s in routes.values()),
        "conflicts_412": sum(s.conflicts for s in routes.values()),
        "in_flight_at_end": in_flight_at_end,
        "p50_ms": round(percentile(everything, 50), 2) if everything else None,
        "p99_ms": round(percentile(everything, 99), 2) if everything else None,
        "routes": per_route,
        **({"wrk": run.wrk} if run.wrk else {}),
    }


# --- the soak --------------------------------------------------------------------------------------

Client = Literal["auto", "wrk", "python"]


@dataclass(frozen=True)
class SoakConfig:
    seconds: float
    connections: int | None = None  # None: calibrate over ``levels`` and take the knee
    levels: tuple[int, ...] = (4, 8, 16, 32)
    calibrate_seconds: float = 20
    warmup_seconds: float = 10
    client: Client = "auto"
    plan_size: int = 100_000
    sample_every: float = 5
    timeout: float = 10
    python_processes: int = 2
    seed: int = 8


def _client_of(config: SoakConfig) -> Literal["wrk", "python"]:
    if config.client == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    return config.client


def _load(
    service: Service, plan: Path, config: SoakConfig, *, connections: int, seconds: float, logdir: Path
) -> Run:
    if _client_of(config) == "wrk":
        return run_wrk(service, plan, connections=connections, seconds=max(1, round(seconds)), logdir=logdir,
                       timeout=config.timeout)  # fmt: skip
    return run_python(service, plan, connections=connections, seconds=seconds, logdir=logdir,
                      timeout=config.timeout, processes=config.python_processes)  # fmt: skip


def _say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def soak_on(service: Service, config: SoakConfig, workdir: Path) -> dict[str, Any]:
    """Warm up, calibrate (unless ``config.connections``), soak; returns the summary."""
    idle_mb, _ = tree_rss_mb(service.proc.pid)
    catalogue = discover(service)
    plan_path = workdir / f"plan-{time.monotonic_ns()}.tsv"
    write_plan(build_plan(catalogue, config.plan_size, seed=config.seed), plan_path)
    runs = workdir / f"runs-{plan_path.stem.split('-')[1]}"
    _say(
        f"{len(catalogue.codes)} indicators, {len(catalogue.bases)} legal bases; plan of {config.plan_size}; client {_client_of(config)}"
    )
    warmup: dict[str, Any] = {}
    if config.warmup_seconds:
        run = _load(
            service, plan_path, config, connections=4, seconds=config.warmup_seconds, logdir=runs / "warmup"
        )
        warmup = {
            k: v
            for k, v in analyse(run, timeout=config.timeout).items()
            if k in ("rps", "errors", "requests")
        }
    calibration: list[dict[str, Any]] = []
    connections = config.connections
    if connections is None:
        for level in config.levels:
            run = _load(service, plan_path, config, connections=level, seconds=config.calibrate_seconds,
                        logdir=runs / f"calibrate-{level}")  # fmt: skip
            result = analyse(run, timeout=config.timeout)
            calibration.append(
                {k: result[k] for k in ("connections", "rps", "p50_ms", "p99_ms", "errors", "conflicts_412")}
            )
            _say(
                f"calibration: {level} connections → {result['rps']}/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, errors {result['errors']}"
            )
        best = max(c["rps"] for c in calibration)
        connections = min(c["connections"] for c in calibration if c["rps"] >= 0.95 * best)
    sampler = MemorySampler(service.proc.pid, config.sample_every)
    start_mb, start_kinds = sampler.sample(), tree_kinds_mb(service.proc.pid)
    load_start = os.getloadavg()[0]
    sampler.start()
    _say(f"soak: {connections} connections for {config.seconds:.0f} s")
    try:
        run = _load(
            service, plan_path, config, connections=connections, seconds=config.seconds, logdir=runs / "soak"
        )
    finally:
        sampler.stop()
    result = analyse(run, timeout=config.timeout)
    samples = sampler.samples
    half = samples[0][0] + (samples[-1][0] - samples[0][0]) / 2
    slope = slope_mb_per_min([s for s in samples if s[0] >= half])
    _, per_process = tree_rss_mb(service.proc.pid)
    result["memory"] = {
        "idle_mb": round(idle_mb, 1),
        "start_mb": round(start_mb, 1),
        "end_mb": round(samples[-1][1], 1),
        "max_mb": round(max(m for _, m in samples), 1),
        "slope_mb_per_min_second_half": round(slope, 2) if slope is not None else None,
        "kinds_start_mb": start_kinds,
        "kinds_end_mb": tree_kinds_mb(service.proc.pid),
        "samples": len(samples),
        "series": [[round(t - samples[0][0], 1), round(mb, 1)] for t, mb in samples],  # (s, MB)
        "processes_at_end": {str(pid): round(mb, 1) for pid, mb in per_process.items()},
    }
    result["load_average"] = {"soak_start": round(load_start, 2), "soak_end": round(os.getloadavg()[0], 2)}
    result["warmup"] = warmup  # not part of the figures, but its errors are errors all the same
    result["calibration"] = calibration
    result["catalogue"] = {"indicators": len(catalogue.codes), "legal_bases": len(catalogue.bases)}
    result["plan_size"] = config.plan_size
    result["errors_outside_soak"] = warmup.get("errors", 0) + sum(c["errors"] for c in calibration)
    if result["errors"] or result["errors_outside_soak"]:
        result["server_log_tail"] = service.log.read_text(encoding="utf-8", errors="replace").splitlines()[
            -60:
        ]
    return result


def machine() -> dict[str, Any]:
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    pretty = next(
        (line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
         if line.startswith("PRETTY_NAME")), platform.system(),
    )  # fmt: skip
    wrk = shutil.which("wrk")
    wrk_version = (
        subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
        if wrk
        else None
    )
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 2**20, 1),
        "os": pretty,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version,
    }


def run_soak(
    config: SoakConfig, *, extra: int = 0, workers: int = 2, workdir: Path | None = None
) -> dict[str, Any]:
    """The whole benchmark: prepare, serve, soak, stop. ``workdir`` is kept when given."""
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        where = workdir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        _say(f"preparing the catalogue in {where} (seed + {extra} generated)")
        with serve(where, extra=extra, workers=workers) as service:
            summary = soak_on(service, config, where)
    summary["machine"] = machine()
    summary["load_average"]["start"] = [round(x, 2) for x in load_at_start]
    summary["workers"] = workers
    summary["extra_indicators"] = extra
    summary["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return summary


# --- reporting -------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def markdown(summary: Mapping[str, Any]) -> str:
    lines = [
        "| route | requests | errors | 412 (expected) | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary["routes"].values():
        lines.append(
            f"| `{r['route']}` | {r['requests']} | {r['errors']} | {r['conflicts_412'] or ''} "
            f"| {_ms(r['p50_ms'])} | {_ms(r['p99_ms'])} | {_ms(r['max_ms'])} |"
        )
    lines.append(
        f"| **all** | **{summary['requests']}** | **{summary['errors']}** | {summary['conflicts_412']} "
        f"| {_ms(summary['p50_ms'])} | {_ms(summary['p99_ms'])} | |"
    )
    m = summary["memory"]
    slope = m["slope_mb_per_min_second_half"]
    lines += [
        "",
        f"{summary['rps']} requests/s over {summary['seconds']} s at {summary['connections']} connections "
        f"({summary['client']}). Server RSS (master + workers): idle {m['idle_mb']} MB, soak start "
        f"{m['start_mb']} MB, end {m['end_mb']} MB, max {m['max_mb']} MB; slope over the second half "
        f"{'—' if slope is None else f'{slope:+.2f}'} MB/min ({m['samples']} samples). Errors during "
        f"warm-up and calibration: {summary['errors_outside_soak']}.",
    ]
    if summary.get("calibration"):
        lines += ["", "| connections | requests/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
        lines += [
            f"| {c['connections']} | {c['rps']} | {_ms(c['p50_ms'])} | {_ms(c['p99_ms'])} | {c['errors']} |"
            for c in summary["calibration"]
        ]
    return "\n".join(lines)


RESULTS_HEADING = "## Soak of mixed traffic (issue 8)"
RESULTS_INTRO = f"""
{RESULTS_HEADING}

`.venv/bin/python -m bench.soak --minutes 10 --results` — the real service (uvicorn, 2 workers, no access
log, seeded SQLite) under a mix of search (35 %, a third with a facet), suggestions (30 %), reads of an
indicator, its history, legal-basis impact and the change feed (30 %) and writes (5 %: PATCH with
`If-Match`, racing on a pool of 40 codes — the 412s are expected and counted apart — and new targets),
driven by wrk on loopback at the connection count found best by a short calibration; p50/p99 per route
from per-request logs of the wrk Lua script; memory is the RSS of the uvicorn master and workers. Design
and proportions: the docstring of `bench/soak.py`. CI runs the short form `tests/bench/test_soak_short.py`.
"""


def results_section(summary: Mapping[str, Any], command: str) -> str:
    mach = summary["machine"]
    load = summary["load_average"]
    return "\n".join(
        [
            "",
            f"### Soak, {datetime.now().strftime('%Y-%m-%d %H:%M')} (issue 8, item 7)",
            "",
            f"`{command}` — machine: {mach['cores']} cores, {mach['memory_gib']} GiB, {mach['os']}, Python "
            f"{mach['python']}, SQLite {mach['sqlite']}, {mach['wrk'] or 'no wrk'}; uvicorn {summary['workers']} "
            f"workers, no access log; catalogue: seed + {summary['extra_indicators']} generated "
            f"({summary['catalogue']['indicators']} indicators); load average at start "
            f"{' / '.join(str(x) for x in load['start'])} (1/5/15 min), at the soak's start {load['soak_start']}, "
            f"at its end {load['soak_end']}. The load generator shares the two cores.",
            "",
            markdown(summary),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="soak length (default 10)")
    length.add_argument("--seconds", type=float, help="soak length for short runs")
    parser.add_argument(
        "--connections", type=int, help="soak at this many connections (skips the calibration)"
    )
    parser.add_argument(
        "--levels", type=int, nargs="+", default=[4, 8, 16, 32], help="connection counts to calibrate"
    )
    parser.add_argument("--calibrate-seconds", type=float, default=20)
    parser.add_argument("--warmup-seconds", type=float, default=10)
    parser.add_argument("--extra", type=int, default=0, help="generated indicators added to the seed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--plan-size", type=int, default=100_000)
    parser.add_argument("--sample-every", type=float, default=5, help="seconds between memory samples")
    parser.add_argument(
        "--timeout", type=float, default=10, help="seconds after which a request counts as failed"
    )
    parser.add_argument("--workdir", type=Path, help="keep the database, plan, logs and server log here")
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    parser.add_argument("--results", action="store_true", help="append a section to bench/RESULTS.md")
    args = parser.parse_args(argv)
    seconds = (
        args.seconds if args.seconds is not None else (args.minutes if args.minutes is not None else 10) * 60
    )
    config = SoakConfig(
        seconds=seconds, connections=args.connections, levels=tuple(args.levels),
        calibrate_seconds=args.calibrate_seconds, warmup_seconds=args.warmup_seconds, client=args.client,
        plan_size=args.plan_size, sample_every=args.sample_every, timeout=args.timeout,
    )  # fmt: skip
    summary = run_soak(config, extra=args.extra, workers=args.workers, workdir=args.workdir)
    command = shlex.join([".venv/bin/python", "-m", "bench.soak", *(sys.argv[1:] if argv is None else argv)])
    summary["command"] = command
    text = json.dumps(summary, ensure_ascii=False, indent=2)
    print(text)
    print()
    print(markdown(summary))
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.results:
        heading = "" if RESULTS_HEADING in RESULTS.read_text(encoding="utf-8") else RESULTS_INTRO
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(heading + results_section(summary, command))
    if summary["errors"] or summary["errors_outside_soak"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
