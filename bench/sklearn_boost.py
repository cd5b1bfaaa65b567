#!/usr/bin/python3
"""Fit the gradient-boosting references, one JSON line each.

The counterpart of `go run ./bench/boost`, with the same keys: the same data
file and scikit-learn's feature derivation, train_test_split(test_size=0.2,
random_state=42), every core. Configs:

  sklearn-hgb   HistGradientBoostingRegressor(max_iter=300, random_state=42)
  xgboost       XGBRegressor(n_estimators=500, max_depth=8, tree_method="hist")

fit_seconds and predict_seconds are the best of --repeat runs (timings on a
shared machine are noisy; the best run is the least disturbed one).
model_bytes is the pickle's size. fit_cpu_seconds is the CPU time (all
threads) of the fastest-CPU fit, steadier than wall time on a loaded machine. Run with Debian's /usr/bin/python3
(python3-sklearn, python3-xgboost).

    /usr/bin/python3 bench/sklearn_boost.py [--data PATH] [--config NAME] [--repeat N]
"""
import argparse
import json
import os
import pickle
import time

CONFIGS = ["sklearn-hgb", "xgboost"]


def default_data():
    env = os.environ.get("HOUSING_DATA")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "shared", "data", "cal_housing.data")


def load(path):
    """Reads the StatLib file as sklearn.datasets.fetch_california_housing does."""
    import numpy as np

    raw = np.loadtxt(path, delimiter=",")
    raw = raw[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]]
    target, data = raw[:, 0], raw[:, 1:]
    data[:, 2] /= data[:, 5]  # AveRooms = totalRooms / households
    data[:, 3] /= data[:, 5]  # AveBedrms = totalBedrooms / households
    data[:, 5] = data[:, 4] / data[:, 5]  # AveOccup = population / households
    return data, target / 100000.0


def model(name):
    if name == "sklearn-hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(max_iter=300, random_state=42)
    import xgboost

    return xgboost.XGBRegressor(n_estimators=500, max_depth=8, tree_method="hist", n_jobs=os.cpu_count())


def run_one(name, data, repeat):
    from sklearn import metrics
    from sklearn.model_selection import train_test_split

    X, y = load(data)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    fit = fit_cpu = predict = float("inf")
    for _ in range(repeat):
        m = model(name)
        start, cpu = time.perf_counter(), time.process_time()
        m.fit(X_train, y_train)
        fit = min(fit, time.perf_counter() - start)
        fit_cpu = min(fit_cpu, time.process_time() - cpu)
    for _ in range(max(repeat, 5)):
        start = time.perf_counter()
        pred = m.predict(X_test)
        predict = min(predict, time.perf_counter() - start)
    mse = metrics.mean_squared_error(y_test, pred)
    return {
        "config": name,
        "r2": metrics.r2_score(y_test, pred),
        "mse": mse,
        "rmse": mse ** 0.5,
        "mae": metrics.mean_absolute_error(y_test, pred),
        "fit_seconds": fit,
        "predict_seconds": predict,
        "model_bytes": len(pickle.dumps(m)),
        "fit_cpu_seconds": fit_cpu,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=default_data())
    ap.add_argument("--config", choices=CONFIGS)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for name in [args.config] if args.config else CONFIGS:
        print(json.dumps(run_one(name, args.data, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
