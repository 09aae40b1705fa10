"""Deterministic, synthetic real-estate agents for the governance examples: a table that
holds personal data, so the reference project has something to tag, check and anonymize.

    agent_id    Int64    1..n, the key
    full_name   String   a first and a last name from short Brazilian name lists
    email       String   name-based, at one of a few domains
    cpf         String   a valid CPF (check digits computed), formatted 000.000.000-00
    phone       String   a São Paulo mobile number, +55 11 9XXXX-XXXX
    birth_date  Date     1950..2000
    region      String   one of five zones of São Paulo (a quasi-identifier)
    commission  Float64  the agent's commission rate, 0.01..0.06

The data is made up: no row is a real person (CPFs are random numbers with valid check
digits). ``python examples/generate_agents.py`` regenerates ``examples/data/agents.csv``.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

FIRST = (
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Tiago",
)
LAST = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Lima",
    "Pereira",
    "Costa",
    "Almeida",
    "Ferreira",
    "Rodrigues",
    "Carvalho",
    "Gomes",
    "Martins",
    "Araújo",
    "Ribeiro",
)
DOMAINS = ("imoveis.example.com", "corretora.example.org", "casa.example.net")
REGIONS = ("Centro", "Norte", "Sul", "Leste", "Oeste")
_ASCII = str.maketrans("ãáâéêíóôõúç", "aaaeeiooouc")


def cpf_digits(base: list[int]) -> list[int]:
    """The nine digits of a CPF followed by its two mod-11 check digits.

    >>> "".join(map(str, cpf_digits([1, 1, 1, 4, 4, 4, 7, 7, 7])))
    '11144477735'
    """
    digits = list(base)
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return digits


def generate_agents(n_rows: int = 200, seed: int = 7) -> list[dict[str, object]]:
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = []
    for agent_id in range(1, n_rows + 1):
        first, last = FIRST[rng.integers(len(FIRST))], LAST[rng.integers(len(LAST))]
        digits = cpf_digits([int(d) for d in rng.integers(0, 10, 9)])
        cpf = "".join(map(str, digits))
        born = date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 50)))
        handle = f"{first}.{last}{agent_id}".lower().translate(_ASCII)
        rows.append(
            {
                "agent_id": agent_id,
                "full_name": f"{first} {last}",
                "email": f"{handle}@{DOMAINS[rng.integers(len(DOMAINS))]}",
                "cpf": f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}",
                "phone": f"+55 11 9{rng.integers(1000, 10000)}-{rng.integers(1000, 10000)}",
                "birth_date": born.isoformat(),
                "region": REGIONS[rng.integers(len(REGIONS))],
                "commission": round(float(rng.uniform(0.01, 0.06)), 4),
            }
        )
    return rows


def write_agents_csv(path: str | Path, n_rows: int = 200, seed: int = 7) -> Path:
    import polars as pl

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(generate_agents(n_rows, seed)).write_csv(out)
    return out


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "agents.csv"
    print(write_agents_csv(target))
