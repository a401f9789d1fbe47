"""The fault-injection run, in short: the worker SIGKILLed at three points of each job, and its disk filled."""

from pathlib import Path

from dualbrain.bench.faults import FaultConfig, faults_markdown, run_faults
from tests.settings import FAST


def test_a_worker_killed_anywhere_or_out_of_disk_recovers_with_nothing_lost(tiny_model_dir: Path, tmp_path: Path) -> None:
    report = run_faults(FaultConfig(points=3, disk_free=(0, 64 << 10)), tmp_path / "faults", tiny_model_dir, FAST)
    summary = report["summary"]
    points = 3 * len(report["config"]["jobs"])
    assert summary["points"] == summary["killed"] == summary["recovered"] == summary["answered_after_kill"] == points
    assert summary["lost_or_duplicated"] == summary["orphans"] == 0
    assert {run["point"] for run in report["runs"] if run["job"] == "learn"} >= {1, report["runs"][0]["steps"]}  # first and last
    for run in report["disk_full"]:
        if "skipped" in run:  # mounting a tmpfs needs root
            continue
        assert run["answers_when_full"] and not run["lost_when_full"] and run["finished"] and not run["orphans"], run
        assert run["error"] is None or "full" in run["error"] or "No space" in run["error"], run["error"]
    assert "| learn | 1 (" in faults_markdown(report)
