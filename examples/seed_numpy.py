"""Seed ETL (b), numpy — "Exemplo de ETL usando Numpy", as written in the seed document.

Adapted only as far as needed to run on examples/data/houses.csv:
  * 'dados.csv' -> csv_path (default: examples/data/houses.csv)
  * np.loadtxt gets one extra argument, converters=..., because houses.csv has missing
    values as empty fields and loadtxt rejects them ("could not convert string '' to
    float64"); the converter turns '' into NaN, which is what the seed's isnan() mask expects.
    (np.genfromtxt(csv_path, delimiter=",", skip_header=1) is the other drop-in; it gives the
    same array but is ~2x slower.)
  * columns [0, 1, 2] -> [1, 3, 7]: the positions of area_m2, age_years, price in houses.csv
    (house_id,area_m2,bedrooms,age_years,distance_center_km,lat,lon,price) — the same three
    columns, in this order, as seed_pandas / seed_outliers. So "column 1" (z-scored) is
    age_years.
  * the module-level script is wrapped in run(csv_path, out_path=None) -> the `agregados`
    array; np.savetxt only runs when out_path is given (the seed writes 'dados_limpos.csv').

Semantics to match in SQL: drop rows with a NULL in any of the 3 columns; z-score age_years
with the *population* std (ndarray.std(), ddof=0 = stddev_pop); then 6 aggregates over the
cleaned rows: avg of the 3 columns, then stddev_pop of the 3 columns (so mean≈0 and std≈1 for
the z-scored column). Note the seed saves only the 6 aggregates (one per line, '# ' header),
not the cleaned rows.
"""

from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parent / "data" / "houses.csv"


def run(csv_path=DEFAULT_CSV, out_path=None):
    import numpy as np

    # Extraindo dados de um arquivo CSV
    # (converters: campos vazios viram NaN — único argumento acrescentado ao código do seed)
    raw_data = np.loadtxt(
        csv_path, delimiter=",", skiprows=1, converters=lambda s: float(s or "nan")
    )

    # Selecionando apenas as colunas relevantes (area_m2, age_years, price)
    data = raw_data[:, [1, 3, 7]]

    # Removendo linhas com valores ausentes
    mask = ~np.isnan(data).any(axis=1)
    data = data[mask]

    # Normalizando os dados
    # Estamos normalizando os dados da coluna 1 (age_years)
    data[:, 1] = (data[:, 1] - data[:, 1].mean()) / data[:, 1].std()

    # Agregando os dados
    agregados = np.array([
        data[:, 0].mean(),
        data[:, 1].mean(),
        data[:, 2].mean(),
        data[:, 0].std(),
        data[:, 1].std(),
        data[:, 2].std()
    ])

    # Salvando os dados transformados em um novo arquivo CSV
    if out_path is not None:
        np.savetxt(out_path, agregados, delimiter=',', header='média_1,média_2,média_3,desvio_1,desvio_2,desvio_3')  # noqa: E501

    return agregados


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    result = run(args[0] if args else DEFAULT_CSV, args[1] if len(args) > 1 else None)
    print(result)
