"""The Python API end to end on a tiny model: ingest, learn, publish, ask, change, forget, and failure safety."""

from dataclasses import replace
from pathlib import Path

from safetensors.torch import load_file

import pytest

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError, NothingToLearn, UnknownKnowledgeBase
from dualbrain.knowledge.support import MIN_FACT_CONFIDENCE, not_stated_answer, unknown_code_answer
from dualbrain.answering.passages import Passages
from dualbrain.learning.publishing import Yielded
from dualbrain.store.pieces import piece_start
from dualbrain.reasoning.generate import Generation
from dualbrain.reasoning.prompting import question_prompt
from tests.settings import FAST_SELF_STUDY


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.md").write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel.\n")
    (folder / "b.txt").write_text("The chief executive of Quillfeather is Marta Oyelaran.\n")
    (folder / "empty.txt").write_text("  \n")
    (folder / "tool.exe").write_bytes(b"MZ")
    return folder


@pytest.fixture()
def brain(tmp_path: Path, tiny_model_dir: Path) -> DualBrain:
    return DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)


def test_learn_ingests_reports_bad_files_and_publishes(brain: DualBrain, corpus: Path) -> None:
    report = brain.learn([corpus], FAST_SELF_STUDY)
    assert sorted(d.source_name for d in report.ingest.added) == ["a.md", "b.txt"]
    reasons = sorted(p.reason for p in report.ingest.problems)
    assert len(reasons) == 2 and "no text" in reasons[0] and reasons[1].startswith("unsupported")
    assert report.version.id == "v0001" and len(report.version.document_ids) == 2
    assert {d.status for d in brain.docs()} == {"learned"}
    assert brain.kb.current_version().id == "v0001"
    assert brain.kb.catalog.jobs()[-1].status == "done"


def test_relearning_the_same_files_reports_duplicates(brain: DualBrain, corpus: Path) -> None:
    brain.learn([corpus], FAST_SELF_STUDY)
    again = brain.learn([corpus], FAST_SELF_STUDY)
    assert not again.ingest.added
    assert sum("same content" in p.reason for p in again.ingest.problems) == 2
    assert again.version.id == "v0001" and again.metrics == {}  # nothing new: nothing trained or published


def test_ask_uses_knowledge_and_plain_mode_matches_base(brain: DualBrain, corpus: Path, tiny_model_dir: Path) -> None:
    plain_before = brain.ask("Who runs Quillfeather?", mode="base", max_new_tokens=8)
    brain.learn([corpus], FAST_SELF_STUDY)
    brain.ask("Who runs Quillfeather?", max_new_tokens=8)
    assert brain.ask("Who runs Quillfeather?", mode="base", max_new_tokens=8) == plain_before


def test_asking_before_learning_explains_what_to_do(brain: DualBrain) -> None:
    with pytest.raises(DualBrainError, match="has not learned anything yet"):
        brain.ask("Who?")


def test_learning_nothing_is_an_error(brain: DualBrain) -> None:
    with pytest.raises(NothingToLearn):
        brain.learn([], FAST_SELF_STUDY)


def test_unknown_knowledge_base(tmp_path: Path) -> None:
    with pytest.raises(UnknownKnowledgeBase):
        DualBrain.open("nope", home=tmp_path)


def test_interrupted_learning_keeps_the_previous_version_serving(
    brain: DualBrain, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain.learn([corpus], FAST_SELF_STUDY)
    answer_before = brain.ask("Who runs Quillfeather?", max_new_tokens=8)
    extra = tmp_path / "extra.md"
    extra.write_text("Quillfeather opened an office in Lunderby in 2021.\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dualbrain.learning.publishing.learn_documents", crash)
    with pytest.raises(KeyboardInterrupt):
        brain.learn([extra], FAST_SELF_STUDY)
    assert brain.kb.current_version().id == "v0001"
    assert [d.status for d in brain.docs() if d.source_name == "extra.md"] == ["pending"]
    assert not any((brain.kb.root / "staging").iterdir())
    assert brain.kb.catalog.jobs()[-1].status == "failed"
    assert brain.ask("Who runs Quillfeather?", max_new_tokens=8) == answer_before


def test_answer_modes_decide_what_enters_the_prompt(brain: DualBrain, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    brain.learn([corpus], FAST_SELF_STUDY)
    prompts = {}
    frame = question_prompt

    def capture(tokenizer, question):  # the user turn, as it is framed for the model (last call: the answer's)
        prompts[mode] = question
        return frame(tokenizer, question)

    monkeypatch.setattr("dualbrain.answering.prompts.question_prompt", capture)
    for mode in ("knowledge", "base", "rag", "context", "knowledge+rag"):  # unchecked, knowledge+rag reads passages at once
        brain.ask("Who founded Quillfeather?", mode=mode, check=False)
    assert prompts["knowledge"] == prompts["base"] == "Who founded Quillfeather?"  # no document text
    for mode in ("rag", "context", "knowledge+rag"):
        assert "Edda Vrankel" in prompts[mode] and prompts[mode].endswith("Question: Who founded Quillfeather?")
    with pytest.raises(DualBrainError, match="unknown answer mode"):
        brain.ask("Who?", mode="oracle")
    mode = "rag-embed"
    brain.ask("Who founded Quillfeather?", mode="rag", retriever="embed")
    assert "Edda Vrankel" in prompts[mode]
    with pytest.raises(DualBrainError, match="unknown retriever"):
        brain.ask("Who?", mode="rag", retriever="grep")
    mode = "oracle-context"
    brain.generate("Who founded Quillfeather?", mode="context", documents=["Only this text."])
    assert "Only this text." in prompts[mode] and "Edda Vrankel" not in prompts[mode]
    with pytest.raises(DualBrainError, match="only be given in the context mode"):
        brain.generate("Who?", mode="knowledge", documents=["leak"])


def test_knowledge_with_rag_reads_the_documents_as_its_knowledge_learned_them(
    brain: DualBrain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _learn_a_price_change(brain, tmp_path)
    prompts = {}
    frame = question_prompt

    def capture(tokenizer, question):
        prompts[mode] = question
        return frame(tokenizer, question)

    monkeypatch.setattr("dualbrain.answering.prompts.question_prompt", capture)
    for mode in ("rag", "knowledge+rag"):
        brain.ask("What is the list price of the Corvex C2?", mode=mode, check=False)
    # rag retrieves the documents as written; knowledge+rag as the shard learned them, the memo's price in the sheet.
    assert "List price: EUR 649" in prompts["rag"]
    assert "List price: EUR 679" in prompts["knowledge+rag"] and "EUR 649" not in prompts["knowledge+rag"]
    assert brain.kb.document_text(brain.docs()[0].id).endswith("List price: EUR 649")  # the stored file is untouched


def test_knowledge_answers_the_documents_do_not_support_are_declined(
    brain: DualBrain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _learn_a_price_change(brain, tmp_path)
    said, sure, second_says = "", 0.9, None
    question = "What is the list price of the Corvex C2?"
    asked = question_prompt(brain.reasoning.tokenizer, question)

    def model_says(model, tokenizer, prompt, max_new_tokens, on_text=None, trace=None):  # in two pieces, each token `sure`
        second_opinion = prompt.startswith(asked) and prompt != asked  # asked again with the start of an answer
        text = second_says(prompt[len(asked):]) if second_opinion else said
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if trace:  # the runner-up of every token is itself
            trace.ids, trace.probabilities, trace.runner_up = ids, [sure] * len(ids), ids
        for piece in (text[:10], text[10:]):
            if on_text:
                on_text(piece)
        return Generation(text, 10, len(ids), 0.01, 0.02)

    monkeypatch.setattr("dualbrain.answering.engine.continue_text", model_says)
    assert brain.route(question)  # a shard answers it: its answer comes from the knowledge network
    said = "Datasheet: Corvex C2 — List price: EUR 679"
    answer = brain.generate(question)
    assert answer.text == said and answer.withheld is None
    sure = MIN_FACT_CONFIDENCE / 2  # unsure of its fact: delivered only if its second opinion states it too
    second_says = lambda start: said[len(start):]  # noqa: E731
    assert brain.generate(question).text == said
    second_says = lambda start: " 9.5 volts"  # noqa: E731
    assert brain.generate(question).text == not_stated_answer() and brain.ask(question, check=False) == said
    sure = 0.9
    streamed = []
    for said in ("Datasheet: Corvex C2 — Voltage: 2.45 volts", "List price: EUR 649"):  # invented; replaced by the memo
        answer = brain.generate(question, on_text=streamed.append)
        assert answer.text == not_stated_answer() and answer.withheld == said
        assert brain.ask(question, check=False) == said
    assert streamed == [not_stated_answer()] * 2  # nothing unsupported reaches the reader, not even streamed
    assert brain.generate("What does the Corvex Z1 cost?").text == unknown_code_answer("Z1")
    for mode in ("base", "rag"):  # the plain model, and answers read from passages, are not checked
        assert brain.ask(question, mode=mode) == said
    # While every document is being forgotten the old version still serves, but no question routes to what they
    # taught it: the plain model answers, as for any question about nothing the documents hold.
    brain.kb.catalog.set_status([doc.id for doc in brain.docs()], "forgetting")
    answer = brain.generate(question)
    assert answer.memory is None and answer.text == brain.ask(question, mode="base")


def test_knowledge_with_rag_reads_passages_only_where_the_knowledge_answer_is_declined(
    brain: DualBrain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _learn_a_price_change(brain, tmp_path)
    question = "What is the list price of the Corvex C2?"
    prompts, said = [], {}

    def model_says(model, tokenizer, prompt, max_new_tokens, on_text=None, trace=None):
        prompts.append(prompt)
        text = said["with passages" if "Question:" in prompt else "alone"]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if trace:
            trace.ids, trace.probabilities, trace.runner_up = ids, [0.9] * len(ids), ids
        if on_text:
            on_text(text)
        return Generation(text, len(prompt), len(ids), 0.01, 0.02)

    monkeypatch.setattr("dualbrain.answering.engine.continue_text", model_says)
    said = {"alone": "Datasheet: Corvex C2 — List price: EUR 679", "with passages": "Vendor: Acme Pumps"}
    streamed: list[str] = []
    answer = brain.generate(question, mode="knowledge+rag", on_text=streamed.append)
    assert answer.text == streamed[0] == said["alone"] and len(prompts) == 1  # supported: no passage read
    said["alone"] = "Datasheet: Corvex C2 — Voltage: 2.45 volts"  # declined: the passages are read instead
    prompts.clear(), streamed.clear()
    answer = brain.generate(question, mode="knowledge+rag", on_text=streamed.append)
    assert answer.text == streamed[0] == said["with passages"] and len(prompts) == 2 and "EUR 679" in prompts[1]
    assert answer.prompt_tokens == len(prompts[0]) + len(prompts[1])  # the reader paid for both
    prompts.clear()
    assert brain.ask("What does the Corvex Z1 cost?", mode="knowledge+rag") == unknown_code_answer("Z1")
    assert len(prompts) == 1  # no passage names an unknown code


def _learn_a_price_change(brain: DualBrain, tmp_path: Path) -> None:
    """A datasheet, then a memo that changes its price, learned with newer facts winning."""
    sheet = _write(tmp_path / "docs", "a-sheet.md", "# Datasheet: Corvex C2\n\nVendor: Acme Pumps\nList price: EUR 649\n")
    memo = _write(tmp_path / "docs", "b-memo.md", "# Memo\n\nThe price of the Corvex C2 is now EUR 679.\n")
    brain.learn([sheet, memo], replace(FAST_SELF_STUDY, newer_facts_win=True))


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def _weights(brain: DualBrain, shard_id: str) -> dict:
    return load_file(brain.kb.shard_dir(shard_id) / "adapter" / "adapter_model.safetensors")


def test_learning_more_trains_only_a_new_shard(brain: DualBrain, corpus: Path, tmp_path: Path) -> None:
    first = brain.learn([corpus], FAST_SELF_STUDY).version
    before = _weights(brain, "s0001")
    report = brain.learn([_write(tmp_path / "later", "c.md", "Quillfeather opened an office in Lunderby in 2021.\n")], FAST_SELF_STUDY)
    assert report.version.shard_ids == ("s0001", "s0002") and report.metrics["shards_trained"] == 1
    assert set(brain.kb.catalog.get_shard("s0002").document_ids) == {report.ingest.added[0].id}
    after = _weights(brain, "s0001")
    assert all(before[k].equal(after[k]) for k in before)  # the earlier shard was not touched
    assert set(report.version.document_ids) == set(first.document_ids) | {report.ingest.added[0].id}


def test_forgetting_is_exact_unlearning(brain: DualBrain, tmp_path: Path, tiny_model_dir: Path) -> None:
    keep = _write(tmp_path / "docs", "keep.md", "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel.\n")
    secret = _write(tmp_path / "docs", "secret.md", "The launch code of Quillfeather is ZX-4471 and Orla Quennet holds it.\n")
    learned = brain.learn([tmp_path / "docs"], FAST_SELF_STUDY)
    secret_id = next(d.id for d in learned.ingest.added if d.source_name == "secret.md")
    assert brain.kb.derived_dir(secret_id).is_dir()
    report = brain.forget(secret_id)
    assert report.shards_rebuilt == 1 and report.versions_deleted == ["v0001"]
    assert [v["id"] for v in brain.versions()] == ["v0002"] and brain.kb.current_version().document_ids == report.version.document_ids
    assert secret_id not in {d.id for d in brain.docs()} and len(brain.kb.catalog.forgotten()) == 1
    assert not brain.kb.derived_dir(secret_id).exists() and not list(brain.kb.root.rglob(f"{secret_id}*"))
    for trace in ("ZX-4471", "secret.md", secret_id):  # its text, name and id are nowhere, catalog included
        assert not any(trace.encode() in f.read_bytes() for f in brain.kb.root.rglob("*") if f.is_file()), trace
    # The rebuilt shard is the shard a knowledge base that never saw the secret trains, bit for bit.
    never = DualBrain.open("never", home=tmp_path / "home", model=tiny_model_dir, create=True)
    never.learn([keep], FAST_SELF_STUDY)
    rebuilt, reference = _weights(brain, report.version.shard_ids[0]), _weights(never, "s0001")
    assert rebuilt.keys() == reference.keys() and all(rebuilt[k].equal(reference[k]) for k in rebuilt)
    assert brain.ask("Who founded Quillfeather?", max_new_tokens=4) == never.ask("Who founded Quillfeather?", max_new_tokens=4)


def test_consolidation_retrains_shards_about_the_same_things_as_one(brain: DualBrain, tmp_path: Path, tiny_model_dir: Path) -> None:
    overview = _write(tmp_path / "a", "overview.md", "Quillfeather Aeronautics is led by Marta Oyelaran.\n")
    people = _write(tmp_path / "b", "people.md", "Marta Oyelaran was born in Lunderby in 1961.\n")
    dairy = _write(tmp_path / "c", "dairy.md", "The Brannock Dairy sells cheese from forty farms.\n")
    for document in (overview, people, dairy):  # learned at different times: one shard each
        brain.learn([document], FAST_SELF_STUDY)
    ids = {d.source_name: d.id for d in brain.docs()}
    report = brain.consolidate(FAST_SELF_STUDY)
    assert report.merged == [["s0001", "s0002"]] and report.metrics["shards_trained"] == 1
    shards = {s: set(brain.kb.catalog.get_shard(s).document_ids) for s in report.version.shard_ids}
    assert sorted(shards.values(), key=len) == [{ids["dairy.md"]}, {ids["overview.md"], ids["people.md"]}]
    assert brain.consolidate(FAST_SELF_STUDY).merged == []  # nothing left to merge: no new version
    assert brain.kb.current_version().id == report.version.id
    # Forgetting stays exact: the merged shard is rebuilt from what remains, as if it had been learned alone.
    brain.forget(ids["people.md"])
    never = DualBrain.open("never", home=tmp_path / "home", model=tiny_model_dir, create=True)
    never.learn([overview], FAST_SELF_STUDY)
    merged = next(s for s in brain.kb.current_version().shard_ids if ids["overview.md"] in brain.kb.catalog.get_shard(s).document_ids)
    rebuilt, reference = _weights(brain, merged), _weights(never, "s0001")
    assert all(rebuilt[k].equal(reference[k]) for k in reference)


def test_forgetting_the_only_document_leaves_an_empty_version(brain: DualBrain, tmp_path: Path) -> None:
    only = brain.learn([_write(tmp_path / "d", "a.md", "Quillfeather was founded in 1987.\n")], FAST_SELF_STUDY).ingest.added[0]
    plain = brain.ask("Who founded Quillfeather?", mode="base", max_new_tokens=6)
    report = brain.forget(only.id)
    assert report.version.shard_ids == () and not list((brain.kb.root / "shards").iterdir())
    assert brain.ask("Who founded Quillfeather?", max_new_tokens=6) == plain  # no knowledge left: the plain model
    with pytest.raises(DualBrainError, match="unknown document"):
        brain.forget(only.id)


def test_a_new_edition_supersedes_the_old_document(brain: DualBrain, tmp_path: Path) -> None:
    old = brain.learn([_write(tmp_path / "v1", "board.md", "The chief executive of Quillfeather is Marta Oyelaran.\n")], FAST_SELF_STUDY)
    new = brain.learn([_write(tmp_path / "v2", "board.md", "From 1 March the chief executive of Quillfeather is Ivo Brandt.\n")], FAST_SELF_STUDY)
    old_id, new_id = old.ingest.added[0].id, new.ingest.added[0].id
    assert new.ingest.replaced == {new_id: old_id} and brain.kb.catalog.supersessions() == {old_id: new_id}
    assert brain.kb.catalog.get_document(old_id).status == "superseded"
    assert new.version.document_ids == (new_id,) and new.metrics["shards_trained"] == 1
    assert "Oyelaran" not in " ".join(c.text for c in brain.answers.passages.retriever().chunks)  # retrieval offers the new value only


def test_supersedes_names_the_replaced_document(brain: DualBrain, corpus: Path, tmp_path: Path) -> None:
    learned = brain.learn([corpus], FAST_SELF_STUDY)
    target = learned.ingest.added[0]
    memo = _write(tmp_path / "memo", "memo.md", "Quillfeather was in fact founded in 1988.\n")
    with pytest.raises(DualBrainError, match="unknown document"):
        brain.add([memo], supersedes="dnope")
    report = brain.learn([memo], FAST_SELF_STUDY, supersedes=target.id)
    assert brain.kb.catalog.supersessions() == {target.id: report.ingest.added[0].id}
    assert target.id not in report.version.document_ids


def test_history_rollback_and_pruning(brain: DualBrain, corpus: Path, tmp_path: Path) -> None:
    brain.learn([corpus], FAST_SELF_STUDY)
    second = brain.learn([_write(tmp_path / "x", "c.md", "Quillfeather opened an office in Lunderby in 2021.\n")], FAST_SELF_STUDY)
    added = second.ingest.added[0].id
    assert brain.rollback("v0001").id == "v0001" and brain.kb.current_version().id == "v0001"
    assert brain.kb.catalog.get_document(added).status == "pending"
    third = brain.learn([], FAST_SELF_STUDY)  # learns what v0001 lacks, on top of v0001
    assert third.version.id == "v0003" and added in third.version.document_ids
    brain.learn([_write(tmp_path / "y", "d.md", "Quillfeather employs 212 engineers.\n")], FAST_SELF_STUDY, keep_versions=2)
    assert [v["id"] for v in brain.versions()] == ["v0003", "v0004"]
    with pytest.raises(DualBrainError, match="unknown version"):
        brain.rollback("v0001")


def test_progress_is_found_by_the_request_a_learn_runs_for(brain: DualBrain, corpus: Path) -> None:
    seen = []
    brain.learn([corpus], FAST_SELF_STUDY, on_progress=lambda update: seen.append(brain.progress(7)), request=7)
    assert seen and all(progress is not None for progress in seen) and seen[-1]["shards"] == 1
    assert brain.progress(7) is None  # done: nothing live to show
    assert brain.progress(8) is None  # another request's job, or none


def _long_document(tmp_path: Path) -> tuple[Path, str]:
    text = "\n\n".join(f"Depot {n} of Quillfeather stores {n * 7} gliders in Tollan-{n}." for n in range(24))
    return _write(tmp_path / "long", "depots.md", text), text


def test_a_document_longer_than_a_shard_is_learned_in_pieces_and_forgotten_whole(brain: DualBrain, tmp_path: Path) -> None:
    path, text = _long_document(tmp_path)
    config = replace(FAST_SELF_STUDY, shard_chars=400)
    report = brain.learn([path], config)
    doc_id = report.ingest.added[0].id
    pieces = [piece for held in brain.kb.shard_documents(report.version).values() for piece in held]
    assert report.version.document_ids == (doc_id,) and len(pieces) == len(report.version.shard_ids) > 2
    assert "".join(brain.kb.piece_texts(pieces).values()) == text  # every character learned, once
    assert all(shard["characters"] <= 400 for shard in report.metrics["shards"])
    assert brain.docs()[0].status == "learned"
    # A question routes to the shard that learned its piece, not to the document's first shard.
    last_shard = report.version.shard_ids[-1]
    assert brain.route("How many gliders does Depot 23 of Quillfeather store in Tollan-23?") == [last_shard]
    assert len(list(brain.kb.derived_dir(doc_id).iterdir())) == len(pieces)  # each piece has its own drafts
    brain.forget(doc_id)
    assert brain.kb.current_version().shard_ids == ()
    for trace in ("Tollan-23", doc_id, pieces[1].partition("@")[2]):  # text, id, and a piece's span (its breaks)
        assert not [f for f in brain.kb.root.rglob("*") if f.is_file() and trace.encode() in f.read_bytes()], trace


def test_a_long_documents_pieces_are_read_in_order_when_its_first_shard_was_rebuilt(brain: DualBrain, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    short = _write(tmp_path / "in", "a.md", "Q is 1987.\n")
    long = _write(tmp_path / "in", "b.md", "Depot one of Quillfeather stores forty gliders.\n\nDepot two stores nine kites in "
                  "Tollan.\n\nDepot three keeps spare wings in Lunderby.\n")
    first = brain.learn([short, long], replace(FAST_SELF_STUDY, shard_chars=100))
    assert len(first.version.shard_ids) == 2  # [a, b's first piece], [b's second piece]
    brain.forget(first.ingest.added[0].id)  # b's first piece is retrained into a shard listed after the second's
    version = brain.kb.current_version()
    assert [piece_start(pieces[0]) for pieces in brain.kb.shard_documents(version).values()] == [89, 0]
    learned = [chunk.text for chunk in Passages(brain.kb).retriever("bm25", learned_by=version).chunks]
    assert learned[0].startswith("Depot one") and learned[-1].endswith("Lunderby.")


def test_a_learn_that_yields_between_shards_goes_on_from_the_shards_it_trained(brain: DualBrain, tmp_path: Path) -> None:
    path, _ = _long_document(tmp_path)
    config = replace(FAST_SELF_STUDY, shard_chars=400)
    brain.learn([_write(tmp_path / "first", "a.md", "Quillfeather was founded by Edda Vrankel.\n")], config)
    serving = brain.kb.current_version()
    trained: list[int] = []

    def count(update) -> None:
        if update.phase == "training" and update.step == 1:
            trained.append(update.shard)

    with pytest.raises(Yielded):
        brain.learn([path], config, on_progress=count, request=7, yield_now=lambda: True)
    assert trained == [1] and brain.kb.current_version() == serving  # one shard, then it gave way; nothing published
    assert brain.kb.catalog.latest_job(7).status == "queued"
    report = brain.learn(config=config, on_progress=count, request=7)
    shards = len(report.version.shard_ids) - 1
    assert trained == list(range(1, shards + 1)) and shards > 2  # the first shard was not trained again
    assert report.metrics["shards_trained"] == shards and brain.docs()[-1].status == "learned"
    assert [job.status for job in brain.kb.catalog.jobs() if job.params.get("request") == 7] == ["done"]  # one job
    assert not (brain.kb.root / "trained").exists()
