"""Seed ETL (a), pandas — "Exemplo de ETL usando Pandas", as written in the seed document.

Adapted only as far as needed to run on examples/data/houses.csv:
  * 'data.csv'                              -> csv_path (default: examples/data/houses.csv)
  * 'column_1', 'column_2', 'column_3'      -> 'area_m2', 'age_years', 'price'
    (the same three columns, in this order, in seed_pandas / seed_numpy / seed_outliers)
  * the module-level script is wrapped in run(csv_path) -> DataFrame.

Semantics to match in SQL: read all columns (pandas infers int64 / float64; integer columns
with gaps become float64, empty field -> NaN), project 3 columns, drop every row with a NaN
in any of the 3 (~6 % of houses.csv). The original row index is kept (not reset).
Rough SQL equivalent:
    SELECT area_m2, age_years, price FROM read_csv('houses.csv')
    WHERE area_m2 IS NOT NULL AND age_years IS NOT NULL AND price IS NOT NULL
"""

from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parent / "data" / "houses.csv"


def run(csv_path=DEFAULT_CSV):
    # Importe o Pandas
    import pandas as pd

    # Extraindo dados de um arquivo CSV
    df = pd.read_csv(csv_path)

    # Selecionando apenas as colunas relevantes
    df = df[["area_m2", "age_years", "price"]]

    # Removendo linhas com valores ausentes
    df = df.dropna()

    return df


if __name__ == "__main__":
    import sys

    result = run(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CSV)
    print(result)
