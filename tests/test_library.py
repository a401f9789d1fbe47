"""A home's knowledge bases on one shared engine: opened once, opened afresh after being deleted and made again."""

from pathlib import Path

import pytest

from dualbrain.errors import KnowledgeBaseExists, UnknownKnowledgeBase
from dualbrain.library import Library
from dualbrain.store import Home


def test_knowledge_bases_are_opened_once_on_the_shared_engine(tmp_path: Path, tiny_model_dir: Path) -> None:
    library = Library(Home(tmp_path / "home"), tiny_model_dir)
    acme = library.create("acme")
    other = library.create("other")
    assert library.names() == ["acme", "other"]
    assert library.open("acme") is acme and acme.engine is other.engine is library.engine
    with pytest.raises(KnowledgeBaseExists):
        library.create("acme")


def test_a_deleted_knowledge_base_is_gone_and_one_made_again_under_its_name_is_new(tmp_path: Path) -> None:
    library = Library(Home(tmp_path / "home"))
    acme = library.create("acme")
    library.delete("acme")
    with pytest.raises(UnknownKnowledgeBase):
        library.open("acme")
    again = library.create("acme")
    assert again is not acme and again.docs() == [] and library.open("acme") is again
