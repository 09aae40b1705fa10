"""Seed "Exemplo de Feature Store sendo usado para treinar um modelo de ML", run against
sqlops: features and labels come from the project's feature store, the RandomForest is
fitted and scored, saved to the model registry and loaded back.

The seed's block (between the ``--- seed ---`` markers) is as written. Changes around it:
  * ``feature_store`` is ``sqlops.Project(path).features`` (the seed never shows its
    constructor);
  * the seed never shows how ``train_features``/``train_labels``/... got into the store:
    here the house features of examples/data/houses.csv are saved with
    ``save_features(names, df)`` (featuretools' call), read back with ``load_features()``,
    split 80/20 by ``house_id`` and stored with ``add(df, name=...)``; the label is
    "price above the median";
  * the module-level script is wrapped in ``run(project, csv_path) -> dict``, which also
    loads the saved model back (``load_model``) for the caller to compare.

    python examples/seed_feature_store.py [PROJECT_DIR]   # default: a temporary folder
"""

from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parent / "data" / "houses.csv"
FEATURES = ["area_m2", "bedrooms", "age_years", "distance_center_km"]


def put_data(feature_store, csv_path):
    """Store the seed's four frames: train/test features and labels."""
    import polars as pl

    houses = pl.read_csv(csv_path).drop_nulls([*FEATURES, "price"])
    houses = houses.with_columns(expensive=(pl.col("price") > pl.col("price").median()))
    feature_store.save_features(["house_id", *FEATURES, "expensive"], houses)
    table = feature_store.load_features()
    test = (table["house_id"] % 5) == 0
    for split, rows in (("train", table.filter(~test)), ("test", table.filter(test))):
        feature_store.add(rows.select(FEATURES), name=f"{split}_features")
        feature_store.add(rows.select(pl.col("expensive").cast(pl.Int8)), name=f"{split}_labels")


def run(project, csv_path=DEFAULT_CSV):
    import sqlops

    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    if not (project / "sqlops.toml").exists():
        (project / "sqlops.toml").write_text("")
    feature_store = sqlops.Project(project).features
    put_data(feature_store, csv_path)

    # --- seed ---
    # Importe a classe de modelo
    from sklearn.ensemble import RandomForestClassifier

    # Carregue os dados do Feature Store
    X_train = feature_store.load_feature(name='train_features')
    y_train = feature_store.load_feature(name='train_labels')
    X_test = feature_store.load_feature(name='test_features')
    y_test = feature_store.load_feature(name='test_labels')

    # Crie o modelo de Random Forest
    model = RandomForestClassifier()

    # Treine o modelo usando os dados do Feature Store
    model.fit(X_train, y_train)

    # Faça previsões no conjunto de teste
    predictions = model.predict(X_test)

    # Avalie o desempenho do modelo usando o conjunto de teste
    accuracy = model.score(X_test, y_test)
    print('Accuracy:', accuracy)

    # Armazene o modelo treinado no Feature Store
    feature_store.save_model(name='random_forest_model', model=model)
    # --- seed ---

    loaded = feature_store.load_model('random_forest_model')
    return {
        "model": model,
        "loaded": loaded,
        "accuracy": accuracy,
        "predictions": predictions,
        "X_test": X_test,
        "y_test": y_test,
    }


if __name__ == "__main__":
    import sys
    import tempfile

    folder = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="sqlops-seed-")
    result = run(folder)
    same = (result["loaded"].predict(result["X_test"]) == result["predictions"]).all()
    print(f"project: {folder}; the loaded model predicts the same: {same}")
