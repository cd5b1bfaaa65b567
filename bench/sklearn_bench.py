#!/usr/bin/python3
"""Fit the housing configs with scikit-learn, one JSON line each.

The counterpart of `go run ./bench/forest`, with the same keys: the same
data file and sklearn's own feature derivation, train_test_split(test_size=0.2,
random_state=42), n_jobs=-1. Each config runs in a child process so that
peak_rss_bytes (ru_maxrss) is its own. Run with Debian's /usr/bin/python3
(python3-sklearn).

    /usr/bin/python3 bench/sklearn_bench.py [--data PATH] [--config NAME]
"""
import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time

PREDICT_RUNS = 5
CONFIGS = ["linear", "rf-baseline", "rf-tuned", "rf-optimized"]


def default_data():
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ.get("HOUSING_DATA")
    if env:
        return env
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
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    if name == "linear":
        return LinearRegression()
    trees, depth, features = {
        "rf-baseline": (50, 5, 1.0),
        "rf-tuned": (100, 10, 1.0),
        "rf-optimized": (200, None, 1.0),
    }[name]
    return RandomForestRegressor(
        n_estimators=trees, max_depth=depth, max_features=features, random_state=42, n_jobs=-1
    )


def run_one(name, data):
    from sklearn import metrics
    from sklearn.model_selection import train_test_split

    X, y = load(data)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    m = model(name)
    start = time.perf_counter()
    m.fit(X_train, y_train)
    fit = time.perf_counter() - start
    pred = m.predict(X_test)  # untimed warm-up, as bench/forest does
    times, cpu = [], []
    for _ in range(PREDICT_RUNS):  # the median of a few, as bench/forest does
        start, c0 = time.perf_counter(), time.process_time()
        pred = m.predict(X_test)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - c0)  # all threads of the process
    predict = sorted(times)[len(times) // 2]
    predict_cpu = sorted(cpu)[len(cpu) // 2]
    mse = metrics.mean_squared_error(y_test, pred)
    out = {
        "config": name,
        "r2": metrics.r2_score(y_test, pred),
        "mse": mse,
        "rmse": mse ** 0.5,
        "mae": metrics.mean_absolute_error(y_test, pred),
        "fit_seconds": fit,
        "predict_seconds": predict,
        "predict_cpu_seconds": predict_cpu,
        "model_bytes": len(pickle.dumps(m)),
        "nodes": sum(t.tree_.node_count for t in getattr(m, "estimators_", [])),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=default_data())
    ap.add_argument("--config", choices=CONFIGS)
    args = ap.parse_args()
    if args.config:
        run_one(args.config, args.data)
        return
    for name in CONFIGS:
        subprocess.run([sys.executable, __file__, "--data", args.data, "--config", name], check=True)


if __name__ == "__main__":
    main()
