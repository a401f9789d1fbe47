"""The latest benchmark report: published whole by a link swap, older copies removed."""

from pathlib import Path

from dualbrain.store.reports import latest_report, publish_report


def test_publishing_swaps_the_latest_report_and_keeps_only_it(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert latest_report(reports) is None
    for run, text in (("first", "# one"), ("second", "# two")):
        source = tmp_path / run
        source.mkdir()
        (source / "report.md").write_text(text)
        (source / "accuracy.png").write_bytes(b"png")
        (source / "report.json").write_text("{}")  # not for the UI
        publish_report(reports, source)
    latest = latest_report(reports)
    assert (latest / "report.md").read_text() == "# two"
    assert sorted(p.name for p in latest.iterdir()) == ["accuracy.png", "report.md"]
    assert [p for p in reports.iterdir() if not p.is_symlink()] == [latest]
