import os

import pytest

from dualbrain.errors import InvalidName, JobRunning, KnowledgeBaseExists, UnknownKnowledgeBase
from dualbrain.store import Home, KnowledgeBase, default_home


def test_default_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DUALBRAIN_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    assert Home().root == tmp_path / "h"


def test_default_home_without_environment(monkeypatch):
    monkeypatch.delenv("DUALBRAIN_HOME", raising=False)
    assert default_home().name == "dualbrain"


def test_root_is_created_lazily(tmp_path):
    home = Home(tmp_path / "home")
    assert home.models_dir == tmp_path / "home" / "models"
    assert home.list_kbs() == []
    assert not home.root.exists()
    home.create_kb("acme")
    assert (tmp_path / "home" / "kbs" / "acme").is_dir()


@pytest.mark.parametrize("name", ["acme", "a", "0-x_y", "a" * 63])
def test_valid_names(tmp_path, name):
    assert Home(tmp_path).create_kb(name).name == name


@pytest.mark.parametrize("name", ["", "Acme", "-acme", "_acme", ".acme", "..", "a/b", "a b", "acme\n", "a" * 64, "é"])
def test_invalid_names(tmp_path, name):
    home = Home(tmp_path)
    with pytest.raises(InvalidName, match="lowercase letters, digits"):
        home.create_kb(name)
    with pytest.raises(InvalidName):
        home.open_kb(name)
    with pytest.raises(InvalidName):
        home.delete_kb(name)


def test_create_open_list_delete(tmp_path):
    home = Home(tmp_path)
    created = home.create_kb("beta")
    home.create_kb("alpha")
    assert isinstance(created, KnowledgeBase)
    assert home.list_kbs() == ["alpha", "beta"]

    opened = home.open_kb("beta")
    assert opened.name == "beta"
    assert opened.root == tmp_path / "kbs" / "beta"
    assert opened.documents() == []
    assert opened.current_version() is None

    home.delete_kb("beta")
    assert home.list_kbs() == ["alpha"]
    assert os.listdir(tmp_path / "kbs") == ["alpha"]  # no tombstone left behind


def test_create_existing_raises(tmp_path):
    home = Home(tmp_path)
    home.create_kb("acme")
    with pytest.raises(KnowledgeBaseExists, match="'acme' already exists"):
        home.create_kb("acme")


def test_create_losing_a_race_raises_exists_and_cleans_up(tmp_path, monkeypatch):
    home = Home(tmp_path)
    initialise = KnowledgeBase.initialise

    def racing_initialise(root):
        # Another process finishes creating the same knowledge base while this one is building.
        (tmp_path / "kbs" / "acme").mkdir()
        (tmp_path / "kbs" / "acme" / "catalog.sqlite3").write_text("theirs")
        initialise(root)

    monkeypatch.setattr(KnowledgeBase, "initialise", staticmethod(racing_initialise))
    with pytest.raises(KnowledgeBaseExists):
        home.create_kb("acme")
    assert os.listdir(tmp_path / "kbs") == ["acme"]
    assert (tmp_path / "kbs" / "acme" / "catalog.sqlite3").read_text() == "theirs"


def test_failed_create_leaves_nothing_visible(tmp_path, monkeypatch):
    home = Home(tmp_path)

    def broken_initialise(root):
        (root / "documents").mkdir()
        raise OSError("disk full")

    monkeypatch.setattr(KnowledgeBase, "initialise", staticmethod(broken_initialise))
    with pytest.raises(OSError, match="disk full"):
        home.create_kb("acme")
    assert home.list_kbs() == []
    assert os.listdir(tmp_path / "kbs") == []


def test_hidden_entries_are_not_listed(tmp_path):
    home = Home(tmp_path)
    home.create_kb("acme")
    (tmp_path / "kbs" / ".new-half-made").mkdir()
    assert home.list_kbs() == ["acme"]


def test_unknown_kb_message(tmp_path):
    home = Home(tmp_path)
    message = "unknown knowledge base 'nope' (create it with: dualbrain kb create nope)"
    with pytest.raises(UnknownKnowledgeBase) as raised:
        home.open_kb("nope")
    assert str(raised.value) == message
    with pytest.raises(UnknownKnowledgeBase):
        home.delete_kb("nope")


def test_a_knowledge_base_is_not_deleted_under_a_running_job(tmp_path):
    home = Home(tmp_path)
    kb = home.create_kb("beta")
    with kb.job_lock():
        with pytest.raises(JobRunning):
            home.delete_kb("beta")
    assert home.list_kbs() == ["beta"]


def test_a_job_waiting_on_a_deleted_knowledge_base_never_runs_there_nor_in_its_namesake(tmp_path):
    home = Home(tmp_path)
    deleted = home.open_kb(home.create_kb("beta").name)
    home.delete_kb("beta")
    with pytest.raises(UnknownKnowledgeBase, match="'beta' was deleted"):
        with deleted.job_lock():
            pass
    home.create_kb("beta")
    with pytest.raises(UnknownKnowledgeBase, match="'beta' was deleted"):
        with deleted.job_lock():
            pass
    with home.open_kb("beta").job_lock():  # the namesake itself works
        pass


def test_keys_are_revoked_even_when_the_files_cannot_be_removed_and_the_rest_is_swept_later(tmp_path, monkeypatch):
    home = Home(tmp_path)
    home.create_kb("beta")
    key_id, token = home.keys().create("read", "beta")
    monkeypatch.setattr("dualbrain.store.home.shutil.rmtree", lambda *args, **kwargs: None)  # a disk that fails
    home.delete_kb("beta")
    assert home.keys().authenticate(token) is None
    [tombstone] = os.listdir(tmp_path / "kbs")
    assert tombstone.startswith(".deleted-beta-")
    monkeypatch.undo()
    home.sweep()
    assert os.listdir(tmp_path / "kbs") == []


def test_the_sweep_removes_abandoned_creates_and_job_leftovers_but_not_a_create_under_way(tmp_path):
    home = Home(tmp_path)
    kb = home.create_kb("beta")
    old, recent = tmp_path / "kbs" / ".new-gamma-x1", tmp_path / "kbs" / ".new-delta-x2"
    old.mkdir(), recent.mkdir()
    os.utime(old, (0, 0))
    leftover = kb.root / "staging" / "tmp-dead-run"
    leftover.mkdir(parents=True)
    home.sweep()
    assert sorted(os.listdir(tmp_path / "kbs")) == [".new-delta-x2", "beta"] and not leftover.exists()
