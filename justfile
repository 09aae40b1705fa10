# Developer tasks. `uv run just <task>` works on a fresh clone (just is a dev dependency).

# lint, type-check and test: what CI runs
default: lint test

# build the reference project in sql/
build *args:
    uv run sqlops build {{args}}

# the whole test suite, as CI runs it
test *args:
    uv run pytest {{args}}

# the inner loop: skip the slow end-to-end tests
test-fast *args:
    uv run pytest -m "not slow" -x -q {{args}}

lint:
    uv run ruff check sqlops tests examples
    uv run ruff format --check sqlops tests
    uv run mypy sqlops

fmt:
    uv run ruff format sqlops tests
    uv run ruff check --fix sqlops tests

# benchmarks: printed reports with side-by-side ratios, never timed assertions
bench *args:
    uv run pytest -m bench -s -p no:cacheprovider tests/bench {{args}}
