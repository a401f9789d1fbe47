"""Fault injection: the learning worker killed at many points of its work, and run out of disk, then restarted.

For each job (learn a new document; forget one, which retrains its shard; learn then consolidate), a copy of a
small knowledge base is given the job and a worker process runs it, counting its calls into ``store/`` and
``learning/`` (the steps that write: catalog rows, staged shards, ``CURRENT``, purges). It SIGKILLs itself at the
N-th, for N spread over the whole job. Then, as the server would, a new worker starts and the checks run:

* the serving version loads and answers, right after the kill and after the restart;
* no document is lost or duplicated, and the job's end state is reached (every request done, every document
  learned or forgotten as asked);
* no orphan is left: no staged shard, no shard or derived folder the catalog does not account for, no hidden
  leftover under ``kbs/``.

The disk-full run gives the same jobs a home on a small tmpfs with only so much room left (needs root to mount;
skipped, and said so, without). The job must fail with a clear error and lose nothing; once room is made, a
restarted worker finishes it.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import dualbrain.learning
import dualbrain.store
from dualbrain.api import DualBrain
from dualbrain.knowledge.config import LearnConfig
from dualbrain.serve.worker import run_worker
from dualbrain.store import Home

JOBS = ("learn", "forget", "consolidate")
_KB = "acme"
_DOCUMENTS = {  # two learned together (one shard, so forgetting one retrains it), one added by the job
    "founding.md": "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowgate.\n",
    "dairy.md": "The Brannock Dairy sells cheese from forty farms around Lunderby.\n",
    "kites.md": "Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n",  # names what founding.md names
}
_STEP_ROOTS = tuple(str(Path(package.__file__).parent) for package in (dualbrain.store, dualbrain.learning))


@dataclass(frozen=True)
class FaultConfig:
    points: int = 20  # kill points per job, spread over its steps
    jobs: tuple[str, ...] = JOBS
    disk_free: tuple[int, ...] = (0, 16 << 10, 256 << 10, 4 << 20)  # bytes left free for the disk-full runs; () skips

    def __post_init__(self) -> None:
        if self.points < 1 or not self.jobs or not set(self.jobs) <= set(JOBS):
            raise ValueError(f"fault injection needs at least 1 point and jobs among {', '.join(JOBS)}")


def quick(learn_config: LearnConfig) -> LearnConfig:
    """The recipe cut to one short epoch without self-study: what is checked is recovery, not what is learned."""
    return replace(learn_config, self_study=False, train=replace(learn_config.train, epochs=1, min_steps=4))


def run_faults(config: FaultConfig, out_dir: Path, model: str | Path | None, learn_config: LearnConfig,
               models_dir: Path | None = None, on_point: Callable[[dict], None] | None = None) -> dict:
    """Kill and restart the worker at ``config.points`` points of each job, then fill its disk (module docstring)."""
    learn_config = quick(learn_config)
    models_dir = models_dir or out_dir / "models"
    runs, disk_full = [], []
    for job in config.jobs:
        template = _template(out_dir / f"template-{job}", job, model, models_dir, learn_config)
        dry = _copy(template, out_dir / f"{job}-dry")
        steps = _run_counted(dry, models_dir, model, learn_config, job, kill_at=None)
        for point in sorted({round(1 + i * (steps - 1) / max(config.points - 1, 1)) for i in range(config.points)}):
            home = _copy(template, out_dir / f"{job}-{point}")
            exit_code = _run_counted(home, models_dir, model, learn_config, job, kill_at=point)
            run = {"job": job, "point": point, "steps": steps, "killed": exit_code == -signal.SIGKILL,
                   "answers_after_kill": _answers(home, model)}
            _work(home.root, models_dir, model, learn_config, job)
            runs.append(run | _check(home, job, model))
            shutil.rmtree(home.root)
            if on_point:
                on_point(runs[-1])
        for free in config.disk_free:
            disk_full.append(_disk_full(template, out_dir / f"{job}-disk-{free}", free, models_dir, model, learn_config, job))
    return {"config": asdict(config), "learn_config": learn_config.to_dict(), "runs": runs, "disk_full": disk_full,
            "summary": _summary(runs, disk_full)}


def _template(folder: Path, job: str, model: str | Path | None, models_dir: Path, learn_config: LearnConfig) -> Home:
    """A knowledge base that learned two documents in one shard, with ``job`` queued on it."""
    home = Home(folder / "home", models_dir)
    texts = folder / "documents"
    texts.mkdir(parents=True)
    for name, text in _DOCUMENTS.items():
        (texts / name).write_text(text)
    brain = DualBrain.open(_KB, home=home, model=model, create=True)
    brain.learn([texts / "founding.md", texts / "dairy.md"], learn_config)
    if job == "forget":
        doc_id = next(doc.id for doc in brain.docs() if doc.source_name == "founding.md")
        brain.withdraw(doc_id)  # as the server's forget route does before it queues the forget
        home.queue().enqueue(_KB, "forget", {"document_id": doc_id})
    else:
        brain.add([texts / "kites.md"])
        home.queue().enqueue(_KB, "learn")
    return home


def _copy(template: Home, folder: Path) -> Home:
    shutil.copytree(template.root, folder / "home")
    return Home(folder / "home", template.models_dir)


def _run_counted(home: Home, models_dir: Path, model: str | Path | None, learn_config: LearnConfig, job: str,
                 kill_at: int | None) -> int:
    """Run the worker on ``home`` in a process of its own, killed at its ``kill_at``-th step; without, the steps it
    took. Returns the process's exit code (-SIGKILL when killed), or the step count."""
    counted = home.root.parent / "steps"
    process = multiprocessing.get_context("spawn").Process(
        target=_worker_counting_steps, args=(home.root, models_dir, model, learn_config, job, kill_at, counted))
    process.start()
    process.join()
    if kill_at is None:
        if process.exitcode != 0:
            raise RuntimeError(f"the {job} job failed without a fault (exit code {process.exitcode})")
        return int(counted.read_text())
    return process.exitcode


def _worker_counting_steps(home_root: Path, models_dir: Path, model: str | Path | None, learn_config: LearnConfig,
                           job: str, kill_at: int | None, counted: Path) -> None:
    steps = 0

    def count(frame, event: str, arg: object) -> None:
        nonlocal steps
        if event == "call" and frame.f_code.co_filename.startswith(_STEP_ROOTS):
            steps += 1
            if steps == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.setprofile(count)
    sys.setprofile(count)
    _work(home_root, models_dir, model, learn_config, job)
    sys.setprofile(None)
    counted.write_text(str(steps))


def _work(home_root: Path, models_dir: Path, model: str | Path | None, learn_config: LearnConfig, job: str) -> None:
    """A learning worker's run over ``home_root``'s queue until it is empty, consolidating after a learn for the
    consolidate job."""
    run_worker(home_root, models_dir, model, learn_config, until_idle=True, consolidate=job == "consolidate")


def _answers(home: Home, model: str | Path | None) -> bool:
    """Whether the serving version loads and answers."""
    return _answers_with(DualBrain.open(_KB, home=home, model=model))


def _answers_with(brain: DualBrain) -> bool:
    try:
        brain.ask("Who founded Quillfeather Aeronautics?", max_new_tokens=2)
        return True
    except Exception:  # noqa: BLE001 — any failure to answer is what this records
        return False


def _check(home: Home, job: str, model: str | Path | None) -> dict:
    """The job's end state, reached with nothing lost, duplicated or orphaned, and answering."""
    kb = home.open_kb(_KB)
    expected = _expected(job)
    documents = kb.documents()
    names = Counter(doc.source_name for doc in documents)
    version = kb.current_version()
    ids = {doc.id for doc in documents}
    shards = {shard.id for shard in kb.catalog.shards()}
    orphans = [f"staging/{p.name}" for p in (kb.root / "staging").iterdir()]
    orphans += [f"shards/{p.name}" for p in (kb.root / "shards").iterdir() if p.name not in shards]
    orphans += [f"derived/{p.name}" for p in (kb.root / "derived").iterdir() if p.name not in ids]
    orphans += [f"trained/{p.name}" for p in (kb.root / "trained").glob("*")]  # the publish takes or clears them
    orphans += [f"documents/{p.name}" for p in (kb.root / "documents").iterdir() if p.stem not in ids]
    orphans += [f"kbs/{p.name}" for p in (home.root / "kbs").iterdir() if p.name.startswith(".")]
    return {
        "lost": sorted(expected - set(names)),
        "duplicated": sorted(name for name, count in names.items() if count > 1),
        "unexpected": sorted(set(names) - expected),
        "orphans": sorted(orphans),
        "finished": (version is not None and set(version.document_ids) == ids
                     and all(doc.status == "learned" for doc in documents)
                     and all(work.status == "done" for work in home.queue().list(_KB))),
        "answers": _answers(home, model),
    }


def _expected(job: str) -> set[str]:
    """The documents the knowledge base holds once ``job`` is done."""
    return {"dairy.md"} if job == "forget" else set(_DOCUMENTS)


def _disk_full(template: Home, folder: Path, free: int, models_dir: Path, model: str | Path | None,
               learn_config: LearnConfig, job: str) -> dict:
    """Run ``job`` on a copy of ``template`` on a tmpfs with ``free`` bytes left; then make room and restart."""
    folder.mkdir(parents=True)
    size = sum(p.stat().st_size for p in template.root.rglob("*") if p.is_file())
    # Room for the copy, the bytes left free, and (once the filler goes) the job's new shard and what it rewrites.
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={2 * size + free + (64 << 20)}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"job": job, "free": free, "skipped": f"cannot mount a tmpfs: {mounted.stderr.strip() or 'not root?'}"}
    try:
        home = _copy(template, folder)
        # Opened before the disk fills, as a running server has its knowledge bases open: a SQLite database in WAL
        # mode cannot even be opened for reading on a full disk (its shared-memory index cannot be made).
        serving = DualBrain.open(_KB, home=home, model=model)
        held = lambda: {doc.source_name for doc in serving.docs()}  # noqa: E731
        before = held()
        _answers_with(serving)  # loads what answering needs while there is room
        filler = folder / "filler"
        room = shutil.disk_usage(folder).free - free
        with open(filler, "wb") as out:
            for _ in range(max(room, 0) >> 20):
                out.write(bytes(1 << 20))
            out.write(bytes(max(room, 0) & ((1 << 20) - 1)))
        try:
            _work(home.root, models_dir, model, learn_config, job)
            error = next((work.error for work in home.queue().list(_KB) if work.error), None)
        except Exception as failure:  # noqa: BLE001 — the worker itself could not write: a server restarts it
            error = f"{type(failure).__name__}: {failure}"
        after_failure = {"error": error, "answers_when_full": _answers_with(serving),
                         "lost_when_full": sorted(before - held() - (before - _expected(job)))}
        filler.unlink()
        _work(home.root, models_dir, model, learn_config, job)
        return {"job": job, "free": free} | after_failure | _check(home, job, model)
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _summary(runs: list[dict], disk_full: list[dict]) -> dict:
    ran = [run for run in disk_full if "skipped" not in run]
    return {
        "points": len(runs),
        "killed": sum(run["killed"] for run in runs),
        "recovered": sum(run["finished"] and run["answers"] and not run["orphans"] for run in runs),
        "answered_after_kill": sum(run["answers_after_kill"] for run in runs),
        "lost_or_duplicated": sum(len(run["lost"]) + len(run["duplicated"]) for run in runs + ran),
        "orphans": sum(len(run["orphans"]) for run in runs + ran),
        "disk_full_runs": len(ran),
        "disk_full_recovered": sum(run["finished"] and run["answers"] and not run["orphans"] for run in ran),
        "disk_full_skipped": len(disk_full) - len(ran),
    }


def faults_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    s = report["summary"]
    lines = [
        "# dualbrain bench faults", "",
        "The learning worker SIGKILLed at its N-th step (a call into store/ or learning/), then restarted; the disk "
        "filled with so many bytes left, then freed. A one-epoch recipe without self-study: recovery is checked, "
        "not what is learned.", "",
        "| points | killed | recovered (finished, answering, no orphan) | answered right after the kill "
        "| documents lost or duplicated | orphans |", "|---|---|---|---|---|---|",
        f"| {s['points']} | {s['killed']} | {s['recovered']} | {s['answered_after_kill']} | {s['lost_or_duplicated']} "
        f"| {s['orphans']} |", "",
        "| job | step killed at (of) | killed | answered after the kill | finished after restart | lost | duplicated "
        "| orphans |", "|---|---|---|---|---|---|---|---|",
        *[f"| {r['job']} | {r['point']} ({r['steps']}) | {r['killed']} | {r['answers_after_kill']} | {r['finished']} "
          f"| {', '.join(r['lost']) or 0} | {', '.join(r['duplicated']) or 0} | {', '.join(r['orphans']) or 0} |"
          for r in report["runs"]], "",
        "## Disk full", "",
        f"{s['disk_full_runs']} runs, {s['disk_full_recovered']} recovered once room was made; {s['disk_full_skipped']} "
        "skipped.", "",
        "| job | bytes free | error | answered when full | lost when full | finished after room was made | orphans |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['job']} | {r['free']:,} | {r['skipped']} | – | – | – | – |" if "skipped" in r else
          f"| {r['job']} | {r['free']:,} | {(r['error'] or 'none: it fitted').replace('|', '/')[:120]} "
          f"| {r['answers_when_full']} | {', '.join(r['lost_when_full']) or 0} | {r['finished']} "
          f"| {', '.join(r['orphans']) or 0} |" for r in report["disk_full"]],
    ]
    return "\n".join(lines) + "\n"
