"""Benchmark report routes: the latest ``dualbrain bench`` report of this home and its charts, for the web UI.

A report holds the benchmark's own generated corpus and figures, no tenant's data: any key may read it.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from dualbrain.serve.services import ServicesParam

router = APIRouter(prefix="/v1/reports")


@router.get("/latest")
def report(services: ServicesParam) -> dict:
    folder = services.library.latest_report()
    if folder is None or not (folder / "report.md").exists():
        raise HTTPException(404, "no benchmark report yet (run: dualbrain bench)")
    return {"created": folder.name, "markdown": (folder / "report.md").read_text(),
            "charts": sorted(p.name for p in folder.iterdir() if p.suffix == ".png")}


@router.get("/latest/{file}")
def report_file(file: str, services: ServicesParam) -> FileResponse:
    published = services.library.report_files()
    if file not in published:  # only a listed name, never a path built from the request
        raise HTTPException(404, f"no report file '{file}'")
    return FileResponse(published[file])
