"""Config: defaults, files, environment, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.config import load_config
from sqlops.errors import ConfigError, SqlopsError

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
        ("threads = 0\n", "sqlops.toml:1: threads = 0 must be at least 1"),
        ('models = "sql"\n[engine]\nthreads = 0\n', "sqlops.toml:3: engine.threads = 0 must be"),
        ("[engine]\nthreads = -2\n", "sqlops.toml:2: engine.threads = -2 must be at least 1"),
        ('[engine]\nmemory_limit = "lots"\n', "sqlops.toml:2: engine.memory_limit = 'lots' is"),
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


# what DuckDB's own memory_limit accepts decides; the config must agree with it
MEMORY_VALUES = [
    "4GB", "4 GB", "4gb", "4GiB", "512MiB", "1.5GB", "80%", "4g", "100MB", "2 gigabytes",
    "1TB", "-1", "300kib", "2 bytes", "lots", "4096", "GB", "1e9", "4 G B", "1.5.2GB", "",
    "four GB", "4GB;", "4 KBs",
]  # fmt: skip


@pytest.mark.parametrize("value", MEMORY_VALUES)
def test_memory_limit_is_checked_as_duckdb_checks_it(
    make_project: ProjectFactory, value: str
) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{value}'")
        duckdb_accepts = True
    except duckdb.OutOfMemoryException:  # a valid amount too small to run with
        duckdb_accepts = True
    except duckdb.Error:
        duckdb_accepts = False
    root = make_project({"sqlops.toml": f'[engine]\nmemory_limit = "{value}"\n'})
    try:
        load_config(root)
        config_accepts = True
    except ConfigError as err:
        assert "sqlops.toml:2: engine.memory_limit" in str(err)
        config_accepts = False
    assert config_accepts == duckdb_accepts


def test_a_bad_environment_value_keeps_its_cause(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project({"sql/a.sql": "select 1 as x"})
    monkeypatch.setenv("SQLOPS_THREADS", "many")
    with pytest.raises(ConfigError, match="SQLOPS_THREADS='many'") as err:
        load_config(root)
    assert isinstance(err.value.__cause__, ValueError)


def test_a_config_file_that_is_not_utf8_is_named(make_project: ProjectFactory) -> None:
    root = make_project({"sql/a.sql": "select 1 as x"})
    (root / "sqlops.toml").write_bytes(b'models = "sql"\n# caf\xe9\n')
    with pytest.raises(SqlopsError, match=r"^sqlops\.toml:2: is not UTF-8 text"):
        load_config(root)


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        ('{ a = "DAET" }', "sources.raw.a.columns.a = 'DAET'"),
        ('{ a = "DATE;drop" }', "sources.raw.a.columns.a = 'DATE;drop'"),
        ('{ a = "DECIMAL(10,2" }', "sources.raw.a.columns.a"),
        ('{ a = "INTEGER", b = "VARCHR" }', "did you mean VARCHAR?"),
    ],
)
def test_a_bad_column_type_is_refused_at_load(
    make_project: ProjectFactory, columns: str, fragment: str
) -> None:
    import sqlops

    root = make_project(
        {
            "sqlops.toml": f'[sources."raw.a"]\npath = "a.csv"\ncolumns = {columns}\n',
            "a.csv": "a,b\n1,x\n",
            "sql/m/x.sql": "select * from raw.a",
        }
    )
    with pytest.raises(ConfigError, match=r"^sqlops\.toml:3: ") as err:
        sqlops.Project(root).plan()
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    "type_name",
    ["DATE", "decimal(10, 2)", "INTEGER[]", "STRUCT(a INT, b VARCHAR)", "VARINT",
     "timestamp with time zone", "MAP(VARCHAR, INTEGER)", "UNION(a INT, b VARCHAR)", "INT[3]",
     "double precision"],
)  # fmt: skip
def test_duckdb_types_are_accepted(make_project: ProjectFactory, type_name: str) -> None:
    import duckdb

    import sqlops

    duckdb.sqltype(type_name)  # the premise: DuckDB knows it
    root = make_project(
        {
            "sqlops.toml": f'[sources."raw.a"]\npath = "a.csv"\ncolumns = {{ a = "{type_name}" }}',
            "a.csv": "a\n\n",
            "sql/m/x.sql": "select * from raw.a",
        }
    )
    assert sqlops.Project(root).plan().nodes
