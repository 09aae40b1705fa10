"""OpenLineage run events for each build (``[governance] openlineage = "FILE"``), so lineage
tools (Marquez, DataHub, OpenMetadata, ...) can read sqlops' builds offline.

Each source and model that ran is one OpenLineage job run: a START and a COMPLETE (or FAIL
with the error) event, children of one run of the job ``build``. Its inputs are the
relations it read (and, for a source, its files), its output the relation it wrote, with
the schema as built, column lineage (one hop, from the same sqlglot tracing as
``sqlops lineage --column``) and, when contract results are passed, data-quality facets.
Events are appended with openlineage-python's file transport, one JSON object per line.

openlineage-python is an optional extra: it is imported here only, inside functions, so
``sqlops --help`` and builds without the setting never load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops._version import __version__
from sqlops.api.base import ProjectBase
from sqlops.errors import FileAccessError, GovernanceError, ModelParseError
from sqlops.execute.results import BuildResult, NodeResult
from sqlops.project.model import Model, ProjectSpec, Source

if TYPE_CHECKING:
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent

PRODUCER = f"https://pypi.org/project/sqlops/{__version__}"
# a source's files are listed one dataset each up to this many; past it (and for hive
# partitions) the source's glob is one dataset, so a build never writes megabyte events
_MAX_FILES = 50
# what sqlops' check outcomes say to OpenLineage's ``success`` ("no issues found",
# independent of severity: a warn-severity check that found rows is not a success)
_PASSED = "passed"
_UNEVALUATED = "not_evaluated"


def check_available() -> None:
    """Refuse before a build starts when events are configured but the client is missing:
    a build that succeeds and then cannot record its lineage would be half a success."""
    try:
        import openlineage.client.event_v2  # noqa: F401
    except ImportError as exc:
        raise GovernanceError(
            "[governance] openlineage is set but openlineage-python is not installed",
            hint="pip install 'sqlops[openlineage]'",
        ) from exc


def emit_build(
    project: ProjectBase,
    spec: ProjectSpec,
    result: BuildResult,
    contract_results: Iterable[Any] = (),
    *,
    started: datetime | None = None,
) -> int:
    """Append the run events of every node that ran in ``result`` to the configured file;
    return how many were written (0 when nothing ran).

    ``contract_results`` are check records with ``table, check, column, outcome, failures,
    rows`` (attributes or keys). ``started`` is when the build began (default: its end
    minus its duration); sqlops does not record when each node began, so every START
    carries the build's start and each end adds the node's own duration.
    """
    check_available()
    ran = [n for n in result.nodes if n.status in ("success", "error")]
    if not ran:
        return 0
    end = datetime.now(UTC)
    begin = started if started is not None else end - timedelta(seconds=result.seconds)
    names = _Names(project.root, project.config.warehouse_path)
    schemas = _built_schemas(project)
    checks = _checks_by_table(contract_results)
    build = _Run(names.job, "build", _run_uuid(result.run_id, "build"), None)
    command = _job_facets("COMMAND")
    events = [_run_event(build, "START", begin, command)]
    for node in ran:
        job = _NodeJob(node, spec.models.get(node.name), spec.sources.get(node.name))
        run = _Run(names.job, node.name, _run_uuid(result.run_id, node.name), build)
        finish = begin + timedelta(seconds=node.seconds)
        events += _node_events(names, job, run, schemas, (begin, finish))
        evaluated = [c for c in checks.get(node.name, ()) if c["outcome"] != _UNEVALUATED]
        if evaluated:
            name = f"{node.name}.contract"
            check = _Run(names.job, name, _run_uuid(result.run_id, name), build)
            events += _check_events(names, node.name, check, evaluated, (begin, finish))
    events.append(_run_event(build, "COMPLETE" if result.ok else "FAIL", end, command))
    _write(project.root / project.config.governance.openlineage, events)
    return len(events)


@dataclass(frozen=True)
class _Run:
    """One OpenLineage run: its job's namespace and name, its id, the run it is part of."""

    namespace: str
    job: str
    run_id: str
    parent: _Run | None


@dataclass(frozen=True)
class _NodeJob:
    node: NodeResult
    model: Model | None
    source: Source | None


class _Names:
    """OpenLineage names: jobs in ``sqlops://<project folder>``; the warehouse's relations
    in ``duckdb://<warehouse file>`` named ``schema.table``; files by the client's local
    file convention (namespace ``file``, name the absolute path). Absolute paths, because
    two projects' ``.sqlops/warehouse.duckdb`` must not be one dataset in a lineage tool."""

    def __init__(self, root: Path, warehouse: Path) -> None:
        self.job = f"sqlops://{root.name}"
        self.warehouse = f"duckdb://{warehouse.resolve().as_posix()}"

    @staticmethod
    def file(path: Path | str) -> tuple[str, str]:
        return "file", Path(path).resolve().as_posix()

    @staticmethod
    def database(source: Source) -> tuple[str, str]:
        return f"{source.format}://{Path(source.location).resolve().as_posix()}", source.table or ""


def _run_uuid(run_id: str, name: str) -> str:
    """A UUIDv7 (time-ordered, as OpenLineage advises) that is a function of sqlops' run id
    and the job alone, so the START and the end of a run share it, every emission of one
    build names the same runs, and no two builds collide. The time is the run id's own
    (``20261208T004816_ab12cd``: the build's start, UTC)."""
    from openlineage.client.uuid import generate_static_uuid

    try:
        instant = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        instant = datetime.fromtimestamp(0, UTC)
    return str(generate_static_uuid(instant, f"{run_id}/{name}".encode()))


def _built_schemas(project: ProjectBase) -> dict[str, dict[str, str]]:
    """``{relation: {column: DuckDB type}}`` of the warehouse as this build left it."""
    if not project.config.warehouse_path.exists():
        return {}
    engine = project._open_warehouse(read_only=True, macros=False)
    try:
        return {name: dict(cols) for name, cols in engine.all_columns().items()}
    finally:
        engine.close()


def _checks_by_table(records: Iterable[Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Contract results as plain dicts by table (records are dicts or objects)."""
    fields = ("table", "check", "column", "outcome", "failures", "rows", "severity")
    out: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        row = {f: _get(record, f) for f in fields}
        out.setdefault(str(row["table"]).lower(), []).append(row)
    return out


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _inputs(
    names: _Names, job: _NodeJob, schemas: Mapping[str, Mapping[str, str]]
) -> list[InputDataset]:
    from openlineage.client.event_v2 import InputDataset

    if job.model is not None:
        return [
            InputDataset(names.warehouse, dep, facets=_schema_facets(schemas.get(dep, {})))
            for dep in job.model.depends_on
        ]
    return [InputDataset(ns, name) for ns, name in _source_inputs(names, job.source)]


def _source_inputs(names: _Names, source: Source | None) -> list[tuple[str, str]]:
    """What a source reads: its database table, its files, or (a frame) nothing."""
    if source is None or source.is_frame:
        return []
    if source.table:
        return [names.database(source)]
    if source.hive or len(source.files) > _MAX_FILES or not source.files:
        return [names.file(source.location)]
    return [names.file(f) for f in source.files]


def _output(
    names: _Names, job: _NodeJob, schemas: Mapping[str, Mapping[str, str]]
) -> OutputDataset:
    """The relation a node writes: on success its schema, column lineage and row count;
    on failure only its name (the previous version stayed in place)."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    name = job.node.name
    facets: dict[str, Any] = {}
    output_facets: dict[str, Any] = {}
    if job.node.status == "success":
        facets.update(_schema_facets(schemas.get(name, {})))
        lineage = _column_lineage(names, job, schemas)
        if lineage is not None:
            facets["columnLineage"] = lineage
        if job.node.rows is not None:
            output_facets["outputStatistics"] = stats.OutputStatisticsOutputDatasetFacet(
                rowCount=job.node.rows, producer=PRODUCER
            )
    return OutputDataset(names.warehouse, name, facets=facets, outputFacets=output_facets)


def _schema_facets(columns: Mapping[str, str]) -> dict[str, Any]:
    from openlineage.client.facet_v2 import schema_dataset as schema

    if not columns:
        return {}
    fields = [
        schema.SchemaDatasetFacetFields(name=c, type=t, ordinal_position=i)
        for i, (c, t) in enumerate(columns.items(), 1)
    ]
    return {"schema": schema.SchemaDatasetFacet(fields=fields, producer=PRODUCER)}


_Field = tuple[str, str, str]  # (dataset namespace, dataset name, column)


def _column_lineage(
    names: _Names, job: _NodeJob, schemas: Mapping[str, Mapping[str, str]]
) -> Any | None:
    """Each output column's input fields (DIRECT), and the fields that decide which rows
    come out (INDIRECT, in ``dataset``). None for a Python model or SQL sqlglot cannot
    trace: no facet is better than a wrong one."""
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    columns = schemas.get(job.node.name, {})
    if job.model is not None:
        traced = _model_hop(names, job.model, columns, schemas)
    else:
        traced = _source_hop(names, job.source, columns)
    if traced is None:
        return None
    values, filters = traced

    def fields(found: Iterable[_Field], kind: str) -> list[cl.InputField]:
        return [cl.InputField(ns, n, c, [cl.Transformation(type=kind)]) for ns, n, c in found]

    return cl.ColumnLineageDatasetFacet(
        fields={c: cl.Fields(inputFields=fields(v, "DIRECT")) for c, v in values.items() if v},
        dataset=fields(filters, "INDIRECT"),
        producer=PRODUCER,
    )


def _model_hop(
    names: _Names,
    model: Model,
    columns: Mapping[str, str],
    schemas: Mapping[str, Mapping[str, str]],
) -> tuple[dict[str, list[_Field]], list[_Field]] | None:
    """One hop of a SQL model's column lineage, as ``sqlops lineage --column`` traces it,
    with every ``*`` expanded from the built schemas."""
    if model.kind != "sql":
        return None
    from sqlops.macros import TABLE_MACROS
    from sqlops.project.parse import column_sources

    try:
        hop = column_sources(
            model.sql,
            targets={ref.name: ref.target for ref in model.reads if ref.target},
            schema={d: schemas[d] for d in model.depends_on if d in schemas},
            path=model.path,
            table_macros=TABLE_MACROS,
        )
    except ModelParseError:
        return None
    ns = names.warehouse
    star = [n for n, c in hop.values.get("*", []) if c == "*"]  # an input not expandable
    values = {
        column: [(ns, n, c) for n, c in hop.values.get(column) or [(n, column) for n in star]]
        for column in columns
    }
    filters = [
        (ns, n, col)
        for n, c in dict.fromkeys(hop.filters)
        for col in (schemas.get(n, {}) if c == "*" else (c,))
    ]
    return values, filters


def _source_hop(
    names: _Names, source: Source | None, columns: Mapping[str, str]
) -> tuple[dict[str, list[_Field]], list[_Field]] | None:
    """A source read from one dataset (a file, its glob, a database table): each column
    from the same-named one; from files listed one by one, no facet (which of them holds
    a column is unknown)."""
    read = _source_inputs(names, source)
    if len(read) != 1:
        return None
    ((ns, name),) = read
    return {c: [(ns, name, c)] for c in columns}, []


def _node_events(
    names: _Names,
    job: _NodeJob,
    run: _Run,
    schemas: Mapping[str, Mapping[str, str]],
    times: tuple[datetime, datetime],
) -> list[RunEvent]:
    """START (inputs and the output named) and COMPLETE or FAIL (the output's facets, the
    error) of one source or model."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import error_message_run, sql_job

    inputs = _inputs(names, job, schemas)
    output = _output(names, job, schemas)
    model = job.model
    facets = _job_facets("MODEL" if model is not None else "SOURCE")
    if model is not None and model.kind == "sql":
        facets["sql"] = sql_job.SQLJobFacet(query=model.sql, dialect="duckdb", producer=PRODUCER)
    named = [OutputDataset(output.namespace, output.name)]
    start = _run_event(run, "START", times[0], facets, inputs, named)
    if job.node.status == "success":
        return [start, _run_event(run, "COMPLETE", times[1], facets, inputs, [output])]
    error = error_message_run.ErrorMessageRunFacet(
        message=job.node.error or "failed",
        programmingLanguage="PYTHON" if model is not None and model.kind == "python" else "SQL",
        producer=PRODUCER,
    )
    end = _run_event(run, "FAIL", times[1], facets, inputs, [output], {"errorMessage": error})
    return [start, end]


def _check_events(
    names: _Names,
    table: str,
    run: _Run,
    checks: Sequence[Mapping[str, Any]],
    times: tuple[datetime, datetime],
) -> list[RunEvent]:
    """The contract checks of one table as a job of their own that reads it, the way
    OpenLineage places test results: ``dataQualityAssertions`` and ``dataQualityMetrics``
    are facets of an input dataset (sqlops checks the rows before publishing them)."""
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqm

    assertions = [
        dqa.Assertion(
            assertion=str(c["check"]),
            success=c["outcome"] == _PASSED,
            column=c["column"],
            severity=c["severity"] or ("warn" if c["outcome"] == "warn" else None),
            actual=None if c["failures"] is None else str(c["failures"]),
        )
        for c in checks
    ]
    facets: dict[str, Any] = {
        "dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(
            assertions=assertions, producer=PRODUCER
        )
    }
    rows = [int(c["rows"]) for c in checks if c["rows"] is not None]
    if rows:
        facets["dataQualityMetrics"] = dqm.DataQualityMetricsInputDatasetFacet(
            columnMetrics={}, rowCount=max(rows), producer=PRODUCER
        )
    inputs = [InputDataset(names.warehouse, table, inputFacets=facets)]
    job_facets = _job_facets("TEST")
    return [
        _run_event(run, "START", times[0], job_facets, [InputDataset(names.warehouse, table)]),
        _run_event(run, "COMPLETE", times[1], job_facets, inputs),
    ]


def _job_facets(kind: str) -> dict[str, Any]:
    from openlineage.client.facet_v2 import job_type_job

    return {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="SQLOPS", jobType=kind, producer=PRODUCER
        )
    }


def _run_event(
    run: _Run,
    state: str,
    when: datetime,
    job_facets: Mapping[str, Any] | None,
    inputs: Sequence[InputDataset] = (),
    outputs: Sequence[OutputDataset] = (),
    run_facets: Mapping[str, Any] | None = None,
) -> RunEvent:
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import parent_run

    facets: dict[str, Any] = {"processing_engine": _engine_facet(), **(run_facets or {})}
    if run.parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run.parent.run_id),
            job=parent_run.Job(namespace=run.parent.namespace, name=run.parent.job),
            producer=PRODUCER,
        )
    return RunEvent(
        eventType=RunState(state),
        eventTime=when.isoformat(),
        run=Run(runId=run.run_id, facets=facets),
        job=Job(namespace=run.namespace, name=run.job, facets=dict(job_facets or {})),
        inputs=list(inputs),
        outputs=list(outputs),
        producer=PRODUCER,
    )


@cache  # one per process: the versions do not change, and metadata lookups are slow
def _engine_facet() -> Any:
    from importlib.metadata import version

    from openlineage.client.facet_v2 import processing_engine_run

    return processing_engine_run.ProcessingEngineRunFacet(
        version=__version__,
        name="sqlops",
        openlineageAdapterVersion=version("openlineage-python"),
        producer=PRODUCER,
    )


def _write(path: Path, events: Sequence[RunEvent]) -> None:
    """Append with the client's file transport; its failures (it wraps them all in
    RuntimeError) become one FileAccessError saying the build itself is in place."""
    from openlineage.client.transport.file import FileConfig, FileTransport

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        transport = FileTransport(FileConfig(log_file_path=str(path), append=True))
        for event in events:
            transport.emit(event)
    except (OSError, RuntimeError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__  # the transport wraps it
        reason = getattr(cause, "strerror", None) or str(exc)
        raise FileAccessError(
            f"the build finished but its OpenLineage events could not be written ({reason})",
            path=path,
            hint="check [governance] openlineage; the built tables are in place",
        ) from exc
