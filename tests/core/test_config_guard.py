"""``config_guard.database_url``: the SQLite fast path agrees with SQLAlchemy's parser."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from autoscorer import config_guard as guard

SQLITE = [
    "sqlite://",
    "sqlite:///jobs.db",
    "sqlite:////var/lib/autoscorer/jobs.db",
    "sqlite+pysqlite:///relative/x.sqlite",
    "sqlite:///:memory:",
    "sqlite:////tmp/with space/db.sqlite",
]


@pytest.mark.parametrize("url", SQLITE)
def test_sqlite_file_urls_pass_as_sqlalchemy_reads_them(url: str) -> None:
    parsed = make_url(url)
    assert parsed.get_backend_name() == "sqlite"
    assert parsed.host is None
    assert guard._SQLITE_FILE.match(url)
    assert guard.database_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["sqlite://host/db", "sqlite:///db?mode=ro", "sqlitex:///db", "postgresql://u@h/db", "x"],
)
def test_other_urls_take_the_full_parser(url: str) -> None:
    assert not guard._SQLITE_FILE.match(url)


def test_full_parser_still_refuses_other_databases() -> None:
    with pytest.raises(ValueError, match="must be sqlite:// or postgresql://"):
        guard.database_url("mysql://u@127.0.0.1/db")
    with pytest.raises(ValueError, match="cannot be parsed"):
        guard.database_url("not a url")
    assert guard.database_url("postgresql+psycopg://u:pw@db:5432/x").startswith("postgresql")


def test_default_settings_do_not_import_sqlalchemy() -> None:
    code = (
        "import sys; from autoscorer.settings import Settings; Settings(); "
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
