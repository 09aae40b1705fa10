"""Deterministic generator of a large sqlops project over tiny data (for the orchestration bench).

    uv run python tests/bench/genproject.py /tmp/proj1000 --models 1000

Layout (``models=1000``; other sizes scale the same proportions):

* 3 sources (``raw.customers``, ``raw.products``, ``raw.orders``): small CSVs, ~40-400 rows;
* ~10 schemas: ``stg`` (10%: staging, each reads one source and renames it to the common
  "fact" shape), six ``int_*`` schemas (70%: intermediate, each joins 1-3 upstream models,
  preferring recent ones so the DAG gets deep, not just wide), three ``marts_*`` schemas
  (20%: leaves that aggregate 1-3 intermediate models);
* one SELECT per file, with a ``-- materialized:`` header: tables mostly, some views
  (35% of staging, 10% of intermediate, none of the marts).

Every staging and intermediate model has the columns ``id, customer_id, product_id, amount,
qty, day`` with ``id`` unique, so any 1-3 of them can be joined (``LEFT JOIN ... USING (id)``
keeps the row count of the first) and every statement is valid without knowing the others.
The same seed always writes byte-identical files, and ``Generated`` carries the DAG, the
topological order and the exact DDL so a plain-DuckDB floor can run the same statements.
"""

from __future__ import annotations

import argparse
import heapq
import random
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = "id, customer_id, product_id, amount, qty, day"
INT_SCHEMAS = ("int_sales", "int_customers", "int_products", "int_finance", "int_ops", "int_mkt")
MART_SCHEMAS = ("marts_sales", "marts_finance", "marts_ops")
SOURCES = {  # name -> (file, rows)
    "raw.customers": ("data/customers.csv", 40),
    "raw.products": ("data/products.csv", 20),
    "raw.orders": ("data/orders.csv", 400),
}


@dataclass
class GenModel:
    name: str  # schema.table
    layer: str  # staging | intermediate | mart
    materialized: str  # table | view
    parents: list[str]
    body: str

    @property
    def path(self) -> str:
        schema, table = self.name.split(".")
        return f"sql/{schema}/{table}.sql"

    @property
    def text(self) -> str:
        return f"-- materialized: {self.materialized}\n{self.body}\n"

    def ddl(self) -> str:
        kind = "TABLE" if self.materialized == "table" else "VIEW"
        return f"CREATE OR REPLACE {kind} {self.name} AS\n{self.body}"


@dataclass
class Generated:
    root: Path
    models: dict[str, GenModel]
    sources: dict[str, str]  # name -> absolute csv path
    order: list[str] = field(default_factory=list)  # topological, models only

    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.models}
        for m in self.models.values():
            for p in m.parents:
                if p in out:
                    out[p].append(m.name)
        return out

    def descendants(self, name: str) -> set[str]:
        kids = self.children()
        seen: set[str] = set()
        stack = list(kids[name])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(kids[node])
        return seen

    def depth(self) -> int:
        level: dict[str, int] = {}
        for name in self.order:
            level[name] = 1 + max((level.get(p, 0) for p in self.models[name].parents), default=0)
        return max(level.values())

    def floor_statements(self, csv_root: Path | None = None) -> list[str]:
        """The DDL a build performs, in topological order: schemas, source views, models."""
        root = csv_root or self.root
        schemas = sorted({n.split(".")[0] for n in [*self.sources, *self.models]})
        out = [f"CREATE SCHEMA IF NOT EXISTS {s}" for s in schemas]
        for name, (rel, _rows) in SOURCES.items():
            out.append(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_csv('{root / rel}')")
        out += [self.models[n].ddl() for n in self.order]
        return out

    def leafish(self, lo: int = 2, hi: int = 12) -> str:
        """A deterministic intermediate model with a handful of descendants (a typical edit)."""
        for name in self.order:
            model = self.models[name]
            if model.layer != "intermediate" or model.materialized != "table":
                continue
            if lo <= len(self.descendants(name)) <= hi:
                return name
        raise LookupError("no leaf-ish model")


def _csvs(rng: random.Random) -> dict[str, str]:
    n_cust, n_prod, n_ord = (SOURCES[s][1] for s in ("raw.customers", "raw.products", "raw.orders"))
    segments = ("retail", "smb", "enterprise", "public")
    customers = ["customer_id,name,segment,credit,signup_day"] + [
        f"{i},cust_{i},{rng.choice(segments)},{rng.randint(0, 5000)},"
        f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        for i in range(1, n_cust + 1)
    ]
    categories = ("tools", "toys", "food", "books")
    products = ["product_id,category,price,weight_kg"] + [
        f"{i},{rng.choice(categories)},{rng.randint(100, 9999) / 100},{rng.randint(1, 500) / 10}"
        for i in range(1, n_prod + 1)
    ]
    orders = ["order_id,customer_id,product_id,qty,amount,ordered_at"] + [
        f"{i},{rng.randint(1, n_cust)},{rng.randint(1, n_prod)},{rng.randint(1, 9)},"
        f"{rng.randint(100, 99999) / 100},2026-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
        for i in range(1, n_ord + 1)
    ]
    return {
        "raw.customers": "\n".join(customers) + "\n",
        "raw.products": "\n".join(products) + "\n",
        "raw.orders": "\n".join(orders) + "\n",
    }


def _staging(i: int, rng: random.Random) -> tuple[str, str]:
    source = ("raw.orders", "raw.orders", "raw.customers", "raw.products")[i % 4]
    k, m = rng.randint(2, 9), rng.randint(1, 3)
    if source == "raw.orders":
        body = (
            f"select order_id as id, customer_id, product_id,\n"
            f"       amount * {k / 10 + 0.5:.1f} as amount, qty, ordered_at as day\n"
            f"from raw.orders\nwhere order_id % {k} <> {k - 1} and qty >= {m}"
        )
    elif source == "raw.customers":
        body = (
            f"select customer_id as id, customer_id, customer_id % {k + 10} + 1 as product_id,\n"
            f"       credit / {k}.0 as amount, {m} as qty, signup_day as day\n"
            f"from raw.customers\nwhere segment <> 'public' or credit > {k * 100}"
        )
    else:
        body = (
            f"select product_id as id, product_id % {k} + 1 as customer_id, product_id,\n"
            f"       price * {m} as amount, cast(weight_kg as integer) as qty,\n"
            f"       date '2026-01-01' + product_id::integer as day\n"
            f"from raw.products"
        )
    return source, body


def _intermediate(parents: list[str], rng: random.Random) -> str:
    a = parents[0]
    k = rng.randint(2, 7)
    if len(parents) == 1:
        style = rng.choice(("filter", "window"))
        if style == "filter":
            return (
                f"select id, customer_id, product_id, round(amount * 1.{k}, 2) as amount,\n"
                f"       qty + {k % 3} as qty, day\n"
                f"from {a}\nwhere id % {k} <> 0"
            )
        return (
            f"select id, customer_id, product_id,\n"
            f"       amount - avg(amount) over (partition by customer_id) as amount, qty, day\n"
            f"from {a}"
        )
    if rng.random() < 0.5:  # join on the key
        joins = "\n".join(
            f"left join {p} as t{j} using (id)" for j, p in enumerate(parents[1:], start=1)
        )
        extra = " + ".join(f"coalesce(t{j}.amount, 0)" for j in range(1, len(parents)))
        return (
            f"select id, t0.customer_id, t0.product_id, t0.amount + {extra} as amount,\n"
            f"       t0.qty, t0.day\n"
            f"from {a} as t0\n{joins}"
        )
    ctes = ",\n".join(
        f"agg{j} as (\n    select customer_id, sum(amount) as amt, count(*) as n\n"
        f"    from {p} group by customer_id\n)"
        for j, p in enumerate(parents[1:], start=1)
    )
    joins = "\n".join(f"left join agg{j} using (customer_id)" for j in range(1, len(parents)))
    extra = " + ".join(f"coalesce(agg{j}.amt, 0) / {k}" for j in range(1, len(parents)))
    return (
        f"with {ctes}\n"
        f"select id, customer_id, base.product_id, base.amount + {extra} as amount,\n"
        f"       base.qty, base.day\n"
        f"from {a} as base\n{joins}"
    )


def _mart(parents: list[str], rng: random.Random) -> str:
    unions = "\n    union all\n".join(
        f"    select customer_id, product_id, amount, qty, day from {p}" for p in parents
    )
    grain = rng.choice(("customer_id", "product_id", "date_trunc('month', day)"))
    return (
        f"select {grain} as grain, count(*) as n, sum(amount) as revenue,\n"
        f"       sum(qty) as units, max(day) as last_day\n"
        f"from (\n{unions}\n) as u\ngroup by all"
    )


def generate(root: Path | str, models: int = 1000, seed: int = 7) -> Generated:
    """Write the project into ``root`` (created; existing files overwritten)."""
    rng = random.Random(seed)
    base = Path(root)
    n_stg = max(1, models // 10)
    n_mart = max(1, models // 5)
    n_int = models - n_stg - n_mart
    gen: dict[str, GenModel] = {}

    for i in range(n_stg):
        source, body = _staging(i, rng)
        mat = "view" if rng.random() < 0.35 else "table"
        name = f"stg.{source.split('.')[1]}_{i:03d}"
        gen[name] = GenModel(name, "staging", mat, [source], body)

    upstream = list(gen)  # staging + intermediate so far, in creation order
    for i in range(n_int):
        n_parents = rng.choice((1, 2, 2, 3))
        picks: list[str] = []
        while len(picks) < min(n_parents, len(upstream)):
            # mostly recent models (deep DAG), sometimes anything (wide fan-in)
            if rng.random() < 0.7:
                cand = upstream[max(0, len(upstream) - 1 - int(rng.expovariate(1 / 25)))]
            else:
                cand = rng.choice(upstream)
            if cand not in picks:
                picks.append(cand)
        mat = "view" if rng.random() < 0.10 else "table"
        name = f"{INT_SCHEMAS[i % len(INT_SCHEMAS)]}.m{i:04d}"
        gen[name] = GenModel(name, "intermediate", mat, picks, _intermediate(picks, rng))
        upstream.append(name)

    intermediates = upstream[n_stg:] or upstream
    for i in range(n_mart):
        picks = rng.sample(intermediates, min(rng.choice((1, 2, 3)), len(intermediates)))
        name = f"{MART_SCHEMAS[i % len(MART_SCHEMAS)]}.mart_{i:03d}"
        gen[name] = GenModel(name, "mart", "table", picks, _mart(picks, rng))

    base.mkdir(parents=True, exist_ok=True)
    csv_text = _csvs(random.Random(seed + 1))
    config = []
    for name, (rel, _rows) in SOURCES.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(csv_text[name])
        config.append(f'[sources."{name}"]\npath = "{rel}"\n')
    (base / "sqlops.toml").write_text("\n".join(config))
    for model in gen.values():
        target = base / model.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(model.text)

    out = Generated(base, gen, {n: str(base / rel) for n, (rel, _r) in SOURCES.items()})
    out.order = _toposort(gen)
    return out


def _toposort(models: dict[str, GenModel]) -> list[str]:
    """Kahn's algorithm, ties by name (the same order sqlops's planner uses)."""
    indeg = {n: sum(1 for p in m.parents if p in models) for n, m in models.items()}
    kids: dict[str, list[str]] = {n: [] for n in models}
    for m in models.values():
        for p in m.parents:
            if p in models:
                kids[p].append(m.name)
    ready = [n for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for kid in kids[node]:
            indeg[kid] -= 1
            if indeg[kid] == 0:
                heapq.heappush(ready, kid)
    assert len(order) == len(models), "generated DAG has a cycle"
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    gen = generate(args.root, args.models, args.seed)
    mats = [m.materialized for m in gen.models.values()]
    print(
        f"wrote {len(gen.models)} models ({mats.count('table')} tables, {mats.count('view')} views)"
        f" in {len({n.split('.')[0] for n in gen.models})} schemas, DAG depth {gen.depth()},"
        f" to {args.root}"
    )


if __name__ == "__main__":
    main()
