#!/usr/bin/python3
"""The seed lab done the Python way: the reference `bench/lab` measures
`scripts/run-lab` against.

What a data scientist writes for this lab with scikit-learn and MLflow:
the California housing data (sklearn's fetch_california_housing feature
derivation, read from the local StatLib file since there is no network),
train_test_split(test_size=0.2, random_state=42), then for rf-baseline
(50 trees, depth 5), rf-tuned (100, depth 10) and rf-optimized (200 trees,
full depth) one MLflow run each: params, test metrics, three plots
(matplotlib, mlflow.log_figure) and mlflow.sklearn.log_model with a
signature and an input example. Then the best run by r2 is registered as
"california-housing", moved to Staging, then to Production (archiving the
previous one), and given the alias "champion".

Run with Debian's /usr/bin/python3 and the real MLflow on PYTHONPATH, with
MLFLOW_TRACKING_URI naming the server (bench/lab/python-lab does both).
Prints one JSON line per run ({"run", "r2", ...}) and one for the registry.

    /usr/bin/python3 bench/lab/seed_lab.py --data PATH
"""
import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

EXPERIMENT = "california-housing"
MODEL = "california-housing"
FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
CONFIGS = {
    "rf-baseline": {"n_estimators": 50, "max_depth": 5},
    "rf-tuned": {"n_estimators": 100, "max_depth": 10},
    "rf-optimized": {"n_estimators": 200, "max_depth": None},
}


def load(path):
    """fetch_california_housing(as_frame=True), from the local StatLib file."""
    raw = np.loadtxt(path, delimiter=",")
    raw = raw[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]]
    target, data = raw[:, 0], raw[:, 1:]
    data[:, 2] /= data[:, 5]
    data[:, 3] /= data[:, 5]
    data[:, 5] = data[:, 4] / data[:, 5]
    return pd.DataFrame(data, columns=FEATURES), pd.Series(target / 100000.0, name="MedHouseVal")


def plots(name, model, y_test, pred):
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(y_test, pred, s=4, alpha=0.4)
    ax.plot([0, 5], [0, 5], "r--")
    ax.set(xlabel="actual", ylabel="predicted", title=f"{name}: predicted vs actual")
    mlflow.log_figure(fig, "plots/predicted_vs_actual.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(pred, y_test - pred, s=4, alpha=0.4)
    ax.axhline(0, color="r")
    ax.set(xlabel="predicted", ylabel="residual", title=f"{name}: residuals")
    mlflow.log_figure(fig, "plots/residuals.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.barh(FEATURES, model.feature_importances_)
    ax.set(title=f"{name}: feature importances")
    mlflow.log_figure(fig, "plots/feature_importances.png")
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    X, y = load(args.data)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    mlflow.set_experiment(EXPERIMENT)
    for name, params in CONFIGS.items():
        with mlflow.start_run(run_name=name) as run:
            model = RandomForestRegressor(**params, random_state=42, n_jobs=-1)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_seconds = time.perf_counter() - start
            pred = model.predict(X_test)
            mse = mean_squared_error(y_test, pred)
            metrics = {
                "r2": r2_score(y_test, pred),
                "mse": mse,
                "rmse": mse**0.5,
                "mae": mean_absolute_error(y_test, pred),
                "fit_seconds": fit_seconds,
            }
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            plots(name, model, y_test, pred)
            mlflow.sklearn.log_model(
                model, "model", signature=infer_signature(X_train, pred), input_example=X_train.head(5)
            )
            print(json.dumps({"run": name, "run_id": run.info.run_id, **metrics}), flush=True)
    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENT)
    best = client.search_runs([exp.experiment_id], order_by=["metrics.r2 DESC"], max_results=1)[0]
    mv = mlflow.register_model(f"runs:/{best.info.run_id}/model", MODEL)
    client.transition_model_version_stage(MODEL, mv.version, "Staging")
    client.transition_model_version_stage(MODEL, mv.version, "Production", archive_existing_versions=True)
    client.set_registered_model_alias(MODEL, "champion", mv.version)
    print(json.dumps({"registered": MODEL, "version": mv.version, "run": best.data.tags.get("mlflow.runName"),
                      "r2": best.data.metrics["r2"]}), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "false")
    main()
