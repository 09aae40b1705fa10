"""``sqlops models ...`` as a user runs it: --json is pure JSON of the registry records,
the text view names each version, and an unknown name is one line with a suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import sqlops

import sqlops as lib

from conftest import ProjectFactory

FIELDS = {
    "name",
    "version",
    "artifact",
    "features",
    "training_set",
    "data_version",
    "metrics",
    "owner",
    "stage",
    "saved_at",
}


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    root = make_project({"sqlops.toml": '[versions]\nauthor = "Ana"\n'})
    store = lib.Project(root).features
    store.save_model(name="churn", model={"weights": [1, 2]}, metrics={"accuracy": 0.5})
    store.save_model(name="churn", model={"weights": [3, 4]}, features=["v:a", "v:b"])
    return root


def run_json(root: Path, *args: str) -> object:
    done = sqlops(*args, "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_models_list_json_shape(project: Path) -> None:
    listed = run_json(project, "models", "list")
    assert isinstance(listed, dict) and list(listed) == ["models"]
    rows = listed["models"]
    assert [(r["name"], r["version"]) for r in rows] == [("churn", 1), ("churn", 2)]
    assert all(set(r) == FIELDS for r in rows)
    assert rows[0]["metrics"] == {"accuracy": 0.5} and rows[0]["stage"] == "candidate"
    assert rows[1]["owner"] == "Ana"


def test_models_show_latest_and_a_version(project: Path) -> None:
    latest = run_json(project, "models", "show", "churn")
    assert isinstance(latest, dict) and set(latest) == {*FIELDS, "history"}
    assert (latest["version"], latest["features"]) == (2, ["v:a", "v:b"])
    first = run_json(project, "models", "show", "churn", "--version", "1")
    assert isinstance(first, dict) and first["metrics"] == {"accuracy": 0.5}
    text = sqlops("models", "list", cwd=project)
    assert text.returncode == 0 and "churn" in text.stdout
    shown = sqlops("models", "show", "churn", cwd=project)
    assert shown.returncode == 0 and "version = 2" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "chrun"), "did you mean churn"),
        (("show", "churn", "--version", "7"), "no version 7"),
    ],
)
def test_models_show_unknown_is_one_line(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    done = sqlops("models", *args, cwd=project)
    assert done.returncode == 1 and done.stdout == ""
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_models_list_json_is_empty_before_any_save(make_project: ProjectFactory) -> None:
    root = make_project({"sqlops.toml": ""})
    assert run_json(root, "models", "list") == {"models": []}
