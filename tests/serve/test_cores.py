"""Answers and the learning worker split the CPU's cores while both run, and each takes them all alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.library import Library
from dualbrain.serve.answering import Answerer
from dualbrain.serve.cores import CoreBudget
from dualbrain.serve.worker import run_worker
from dualbrain.store import Home
from tests.settings import FAST


@pytest.fixture()
def threads_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every thread count asked for (nothing changes this process's torch threads)."""
    asked: list[int] = []
    monkeypatch.setattr("dualbrain.serve.cores.use_threads", asked.append)
    monkeypatch.setattr("dualbrain.serve.worker.use_threads", asked.append)
    return asked


@pytest.mark.parametrize("cores, shared", [(1, (1, 1)), (2, (1, 1)), (16, (8, 8))])
def test_the_cores_are_split_only_while_both_run(cores: int, shared: tuple[int, int]) -> None:
    budget = CoreBudget.create(cores)
    assert (budget.answer_threads(), budget.training_threads()) == (cores, cores)
    budget.answering.value, budget.learning.value = 1, 1
    assert (budget.answer_threads(), budget.training_threads()) == shared


def test_an_answer_runs_on_what_learning_leaves_it(home: Home, tiny_model_dir: Path, threads_used: list[int]) -> None:
    budget = CoreBudget.create(4)
    answerer = Answerer(Library(home, tiny_model_dir), cores=budget)
    answerer.generate("acme", "Who founded Quillfeather?", 2)
    budget.learning.value = 1
    answerer.generate("acme", "Who founded Quillfeather?", 2)
    assert threads_used == [4, 2] and budget.answering.value == 0


def test_the_worker_trains_on_what_answers_leave_it(home: Home, tiny_model_dir: Path, tmp_path: Path,
                                                    threads_used: list[int]) -> None:
    (tmp_path / "memo.md").write_text("Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n")
    DualBrain.open("acme", home=home).add([tmp_path / "memo.md"])
    home.queue().enqueue("acme", "learn")
    budget = CoreBudget.create(4)
    budget.answering.value = 1  # an answer runs all along
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True, cores=budget)
    assert home.queue().list("acme")[-1].status == "done"
    assert 2 in threads_used and 4 not in threads_used and budget.learning.value == 0
    budget.answering.value = 0
    home.queue().enqueue("acme", "learn")  # nothing new: it finishes at once, on every core
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True, cores=budget)
    assert threads_used[-1] == 4
