"""Config: defaults, files, environment, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.config import load_config
from sqlops.errors import ConfigError

from conftest import ProjectFactory


def test_defaults_need_no_config_file(make_project: ProjectFactory) -> None:
    root = make_project({"sql/a.sql": "select 1 as x"})
    config = load_config(root)
    assert config.models_path == root / "sql"
    assert config.warehouse_path == root / ".sqlops" / "warehouse.duckdb"
    assert config.config_file is None


def test_pyproject_tool_section_is_read(make_project: ProjectFactory) -> None:
    root = make_project(
        {"pyproject.toml": '[project]\nname="x"\n[tool.sqlops]\nmodels = "models"\n'}
    )
    assert load_config(root).models == "models"


def test_env_overrides_file_and_flags_override_env(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project({"sqlops.toml": "threads = 2\n"})
    monkeypatch.setenv("SQLOPS_THREADS", "3")
    assert load_config(root).threads == 3
    assert load_config(root, threads=5).threads == 5


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('modles = "sql"\n', "sqlops.toml:1: unknown config key modles. did you mean models?"),
        ('models = "sql"\nthreads = "many"\n', "sqlops.toml:2: config key threads must be a int"),
        ('[engine]\ncsv_readr = "polars"\n', "sqlops.toml:2: unknown config key engine.csv_readr"),
        ('[sources."raw.a"]\npth = "a.csv"\n', "unknown config key sources.raw.a.pth"),
        ('[sources.orders]\npath = "a.csv"\n', "must be schema.table"),
        ('[sources."raw.a"]\nformat = "csv"\n', "sources.raw.a has no path"),
        ('models = "sql"\nthreads = = 2\n', "sqlops.toml:2: invalid TOML: Invalid value. fix"),
    ],
)
def test_bad_config_names_key_and_file(
    make_project: ProjectFactory, text: str, fragment: str
) -> None:
    root = make_project({"sqlops.toml": text})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert fragment in str(err.value)


def test_missing_project_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope")
