"""Knowledge-base routes: create, show and delete bases; upload and forget documents; follow the queued learning;
list and roll back versions. Learning and forgetting are queued for the worker process, never run in a request.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError, KnowledgeBaseExists, OverQuota
from dualbrain.ingest.readers import MAX_DOCUMENT_BYTES
from dualbrain.serve.answering import KB_MODEL_PREFIX
from dualbrain.serve.auth import authorize
from dualbrain.serve.schemas import CreateKnowledgeBase, Rollback
from dualbrain.serve.services import Services, ServicesParam
from dualbrain.store.queue import WorkRequest

MAX_UPLOAD_FILES = 32
MAX_UPLOAD_BYTES = 256 << 20  # one upload's files together; each file also ≤ MAX_DOCUMENT_BYTES
# Uploads being received at once, over every knowledge base: each may spool up to MAX_UPLOAD_BYTES to disk.
MAX_CONCURRENT_UPLOADS = 2
_CHUNK = 1 << 20
_SQLITE_MAX_INT = (1 << 63) - 1
_MAX_NAME_BYTES = 200  # of a stored upload's name: room under the 255 of most file systems

router = APIRouter(prefix="/v1/kbs")
_UPLOAD_SLOTS = asyncio.Semaphore(MAX_CONCURRENT_UPLOADS)
# The upload route reads its multipart body itself; this describes it to OpenAPI as a File(...) parameter would.
_MULTIPART_FILES = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}


@router.get("")
def list_kbs(request: Request, services: ServicesParam) -> dict:
    key = request.state.key
    return {"data": [_summary(services.library.open(name)) for name in services.library.names() if key.allows("read", name)]}


@router.post("", status_code=201)
def create_kb(request: Request, body: CreateKnowledgeBase, services: ServicesParam) -> dict:
    authorize(request, "admin")
    try:
        brain = services.library.create(body.name)
    except KnowledgeBaseExists as error:
        raise HTTPException(409, str(error)) from None
    return _summary(brain)


@router.get("/{name}")
def show_kb(request: Request, name: str, services: ServicesParam) -> dict:
    authorize(request, "read", name)
    return _summary(services.library.open(name))


@router.delete("/{name}")
def delete_kb(request: Request, name: str, services: ServicesParam) -> dict:
    authorize(request, "admin", name)
    services.answerer.delete(name)
    return {"deleted": name}


@router.get("/{name}/documents")
def documents(request: Request, name: str, services: ServicesParam) -> dict:
    authorize(request, "read", name)
    return {"data": services.library.open(name).document_views()}


@router.post("/{name}/documents", status_code=202, openapi_extra=_MULTIPART_FILES)
async def upload(request: Request, name: str, services: ServicesParam) -> dict:
    """Add documents (multipart ``files``) and queue their learning; per-file problems come back, the rest goes in.

    The body is read here, not by FastAPI before the route runs: only once the key may write to this knowledge
    base, the base exists, the declared size is within the limit and an upload slot is free."""
    authorize(request, "write", name)
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD_BYTES:  # a number: the body limit checked it
        raise HTTPException(413, f"an upload is limited to {MAX_UPLOAD_BYTES:,} bytes")
    brain = services.library.open(name)
    if _UPLOAD_SLOTS.locked():
        raise HTTPException(429, "too many uploads at once; retry in a moment")
    async with _UPLOAD_SLOTS:
        try:
            form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=0)
        except StarletteHTTPException as error:  # the multipart parser's refusals: too many files, malformed parts
            raise HTTPException(400, str(error.detail)) from error
        staging = services.library.home.uploads_dir
        staging.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=staging))
        try:
            files = [part for part in form.getlist("files") if isinstance(part, UploadFile)]
            if not files:
                raise HTTPException(422, "invalid request: body.files: send the documents as multipart 'files'")
            paths, too_large = await _save_uploads(files, folder)
            report = await run_in_threadpool(lambda: brain.add(paths, quotas=services.quotas)) if paths else None
        finally:
            await form.close()  # the parser's spooled copies
            shutil.rmtree(folder, ignore_errors=True)
    problems = [{"file": name_, "reason": f"larger than {MAX_DOCUMENT_BYTES // (1 << 20)} MB"} for name_ in too_large]
    # Sources may be our temporary paths: only the file's name goes back to the client.
    problems += [{"file": Path(p.source).name, "reason": p.reason} for p in (report.problems if report else [])]
    added = [{"id": d.id, "source_name": d.source_name, "chars": d.chars} for d in (report.added if report else [])]
    if not added:
        raise _nothing_added(problems, [p for p in (report.problems if report else []) if isinstance(p, OverQuota)])
    work = services.queue.enqueue(name, "learn")
    return {"added": added, "problems": problems, "replaced": report.replaced, "request": _request_view(services, work)}


def _nothing_added(problems: list[dict], over_quota: list[OverQuota]) -> HTTPException:
    """Why an upload added nothing: 400, or where files passed a quota 413 (a size), or 429 with Retry-After where
    every one of them fits once the hour makes room."""
    message = "no document was added: " + "; ".join(f"{p['file']}: {p['reason']}" for p in problems)
    if not over_quota:
        return HTTPException(400, message)
    if all(error.retry_after is not None for error in over_quota):
        return HTTPException(429, message, headers={"Retry-After": str(max(e.retry_after for e in over_quota))})
    return HTTPException(413, message)


UPLOAD_ROUTES = [route for route in router.routes if getattr(route, "endpoint", None) is upload]


@router.delete("/{name}/documents/{document_id}", status_code=202)
def forget(request: Request, name: str, document_id: str, services: ServicesParam) -> dict:
    authorize(request, "write", name)
    # Neither memory answers for it from now on (unknown ids fail now, not in the worker); the worker then
    # retrains what learned it.
    services.library.open(name).withdraw(document_id)
    return {"request": _request_view(services, services.queue.enqueue(name, "forget", {"document_id": document_id}))}


@router.post("/{name}/rollback")
def rollback(request: Request, name: str, body: Rollback, services: ServicesParam) -> dict:
    authorize(request, "write", name)
    return {"current_version": services.library.open(name).rollback(body.version).id}


@router.get("/{name}/requests")
def requests(request: Request, name: str, services: ServicesParam) -> dict:
    authorize(request, "read", name)
    services.library.open(name)
    return {"data": [_request_view(services, work) for work in services.queue.list(name)]}


@router.get("/{name}/requests/{request_id}")
def request_status(request: Request, name: str, request_id: Annotated[int, PathParam(ge=1, le=_SQLITE_MAX_INT)],
                   services: ServicesParam) -> dict:
    authorize(request, "read", name)
    services.library.open(name)
    try:
        work = services.queue.get(request_id)
    except DualBrainError:
        work = None
    if work is None or work.kb != name:  # another knowledge base's request does not exist for this key
        raise HTTPException(404, f"unknown request {request_id}")
    return _request_view(services, work)


@router.get("/{name}/versions")
def versions(request: Request, name: str, services: ServicesParam) -> dict:
    authorize(request, "read", name)
    return {"data": services.library.open(name).versions()}


def _summary(brain: DualBrain) -> dict:
    summary = brain.summary()
    return summary | {"model": KB_MODEL_PREFIX + summary["name"]}


def _request_view(services: Services, work: WorkRequest) -> dict:
    """A queued request, with the live training progress of its job while it runs."""
    view = {"id": work.id, "kind": work.kind, "status": work.status, "error": work.error,
            "created_at": work.created_at, "updated_at": work.updated_at}
    if work.status == "running":
        view["progress"] = services.library.open(work.kb).progress(work.id)
    return view


async def _save_uploads(files: list[UploadFile], folder: Path) -> tuple[list[Path], list[str]]:
    """Write uploads into ``folder`` under safe names (the client's name is only a label: never a path);
    files over the size limit are cut off while streaming and reported, not stored."""
    paths, too_large = [], []
    for index, upload in enumerate(files):
        name = _safe_name(upload.filename or "", index)
        path = folder / name
        if path.exists():  # the same name twice: the index (unique per upload) makes its own folder
            (folder / str(index)).mkdir()
            path = folder / str(index) / name
        size = 0
        with open(path, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    break
                out.write(chunk)
        if size > MAX_DOCUMENT_BYTES:
            path.unlink()
            too_large.append(name)
        else:
            paths.append(path)
    return paths, too_large


def _safe_name(filename: str, index: int) -> str:
    """The last component of a client's file name (either slash), without control characters or leading dots."""
    base = PureWindowsPath(PurePosixPath(filename).name).name
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).lstrip(".").strip()
    if len(base.encode()) > _MAX_NAME_BYTES:  # file systems count a name's bytes (255), not its characters
        suffix = PurePosixPath(base).suffix
        suffix = suffix if len(suffix.encode()) < _MAX_NAME_BYTES // 2 else ""  # the type the reader goes by
        stem = base[: len(base) - len(suffix)].encode()[: _MAX_NAME_BYTES - len(suffix.encode())]
        base = stem.decode(errors="ignore").strip() + suffix  # a character cut in half is dropped
    return base or f"upload-{index}"
