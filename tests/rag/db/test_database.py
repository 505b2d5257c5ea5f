"""The history database's file is its owner's alone."""

from __future__ import annotations

from rag.config import load_settings


def test_the_history_database_is_its_owners_alone(tmp_path):
    from rag.db.database import database_url

    database_url(load_settings(data_dir=tmp_path / "data"))
    assert oct((tmp_path / "data" / "tutor.db").stat().st_mode & 0o777) == "0o600"
