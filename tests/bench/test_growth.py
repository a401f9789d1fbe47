"""`bench growth` on a tiny model: the knowledge base grows as designed and each add trains one shard."""

import json
from pathlib import Path

import pytest

from dualbrain import cli
from dualbrain.bench.growth import GrowthConfig, growth_markdown, run_growth
from tests.settings import FAST


def test_growth_report(tiny_model_dir: Path, tmp_path: Path) -> None:
    report = run_growth(GrowthConfig(sizes=(1, 3), added=1, sample=5, max_new_tokens=4), tmp_path, tiny_model_dir, FAST)
    rows = report["growth"]
    assert [r["base_organisations"] for r in rows] == [1, 3]
    # Base 1: organisation 0 (one shard) + its people directory (another). Base 3: + the added organisation 1
    # (one shard), organisation 2 and its people directory (two more).
    assert [r["shards_in_base"] for r in rows] == [2, 5]
    assert all(r["shards_trained"] == 1 and 0 < r["characters_trained"] <= r["document_characters"] for r in rows)
    assert all(0 <= r[key] <= 1 for r in rows for key in ("accuracy_added", "accuracy_added_short_term", "accuracy_earlier_before",
                                                          "accuracy_earlier_short_term", "accuracy_earlier_after"))
    assert all(r["seconds_until_answerable"] < r["seconds_until_in_weights"] for r in rows)
    across = report["across_shards"]
    assert across["facts_in_two_shards"]["questions"] == 2 and across["facts_in_one_shard"]["questions"] == 2
    assert set(across["facts_in_two_shards"]) == {"questions", "accuracy_max_shards_1", "accuracy_max_shards_2"}
    consolidation = report["consolidation"]  # each base organisation's overview and people shards name the same people
    assert consolidation["shards_after"] < consolidation["shards_before"] and consolidation["shards_merged"]
    assert set(consolidation["two_hop_max_shards_1"]) == {"facts_in_two_shards", "facts_in_one_shard"}
    assert "| 3 |" in growth_markdown(report) and "After consolidation" in growth_markdown(report)
    json.dumps(report)


@pytest.mark.parametrize("sizes, message", [("1,x", "--sizes takes sizes like 4,8,16,32"), ("4,2", "increasing base sizes"),
                                            ("4,5", "must grow by at least the 2 organisations")])
def test_growth_cli_rejects_bad_sizes(tmp_path: Path, monkeypatch, capsys, sizes: str, message: str) -> None:
    monkeypatch.setattr("sys.argv", ["dualbrain", "bench", "growth", "--sizes", sizes, "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    assert message in capsys.readouterr().err
