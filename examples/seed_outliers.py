"""Seed ETL (c) — remove_outliers + normalize from "Exemplo de Feature Store usando DVC".

Adapted only as far as needed to run on examples/data/houses.csv:
  * `train_data = ...` (left open in the seed) -> the output of the seed pandas ETL
    (seed_pandas.run: read_csv, keep area_m2, age_years, price, dropna) — the same three
    columns as seed_pandas / seed_numpy.
  * the dvc.api "DVCFeatureStore" part is not reproduced (that API does not exist in DVC);
    run(csv_path) returns the transformed DataFrame instead of adding it to a feature store.
  * remove_outliers / normalize are copied verbatim.

Semantics to match in SQL (subtle, because train_data is a DataFrame, not a Series):
  * data.quantile(0.9) is per column, linear interpolation (= quantile_cont(x, 0.9)).
  * data[data < q] with a boolean *DataFrame* does NOT drop rows: it keeps the shape and
    sets every cell that is not strictly below its column's q90 to NaN (= CASE WHEN x < q
    THEN x END). Ties at q90 (common for the integer age_years) are also blanked.
  * normalize: per column (x - mean) / std with pandas' std, i.e. the *sample* std (ddof=1,
    = stddev_samp), NaN skipped; NaN cells stay NaN.
So the result has the same rows as train_data and ~10 % NULLs per column.
"""

try:
    from seed_pandas import DEFAULT_CSV
    from seed_pandas import run as seed_pandas_run
except ImportError:  # imported as examples.seed_outliers
    from examples.seed_pandas import DEFAULT_CSV
    from examples.seed_pandas import run as seed_pandas_run


# Defina as transformações de recursos que deseja aplicar aos dados
# Estas podem ser funções de pré-processamento, como normalização ou remoção de outliers
def normalize(data):
  # Calcule a média e o desvio padrão dos dados
  mean = data.mean()
  std = data.std()
  # Normalize os dados subtraindo a média e dividindo pelo desvio padrão
  return (data - mean) / std

def remove_outliers(data):
  # Remova os outliers dos dados, considerando apenas os valores abaixo da quantile 90
  return data[data < data.quantile(0.9)]


def run(csv_path=DEFAULT_CSV):
    # Carregue os dados de treinamento
    train_data = seed_pandas_run(csv_path)

    # Aplique as transformações aos dados de treinamento
    # Primeiro, remova os outliers dos dados
    transformed_train_data = remove_outliers(train_data)
    # Em seguida, normalize os dados restantes
    transformed_train_data = normalize(transformed_train_data)

    return transformed_train_data


if __name__ == "__main__":
    import sys

    result = run(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CSV)
    print(result)
