#!/usr/bin/env bash
# Runs bench/forest and bench/sklearn_bench.py config by config, interleaved
# so both see the same machine load, and prints both results with ratios
# (ours / scikit-learn's). Usage: bench/compare.sh [runs] (default 1); with
# several runs the table shows, per config and side, the median over the
# runs of each figure (each predict figure is itself a median of 5 runs).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
py=${PYTHON:-/usr/bin/python3}
data=${HOUSING_DATA:-$(cd .. && pwd)/shared/data/cal_housing.data}
bin=$(mktemp -d)/forest
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/forest
out=$(mktemp)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for _ in $(seq "$runs"); do
  for c in linear rf-baseline rf-tuned rf-optimized; do
    "$bin" -data "$data" -config "$c" | sed 's/^/go /' >>"$out"
    "$py" bench/sklearn_bench.py --data "$data" --config "$c" | sed 's/^/sk /' >>"$out"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$py" - "$out" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    side, js = line.split(" ", 1)
    r = json.loads(js)
    rows.setdefault((r["config"], side), []).append(r)
def median(rs):
    out = {}
    for k in rs[0]:
        v = sorted(r[k] for r in rs)
        out[k] = v[len(v) // 2] if isinstance(v[0], (int, float)) and not isinstance(v[0], bool) else rs[0][k]
    return out
print("| config | R2 go | R2 sklearn | fit s go | fit s sklearn | fit ratio | predict ms go | predict ms sklearn | predict ratio | predict CPU ms go | predict CPU ms sklearn | CPU ratio | model MiB go | pickle MiB | size ratio | peak RSS MiB go | peak RSS MiB sklearn | nodes go | nodes sklearn |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in ["linear", "rf-baseline", "rf-tuned", "rf-optimized"]:
    g, s = median(rows[(c, "go")]), median(rows[(c, "sk")])
    ratio = lambda k: g[k] / s[k] if s[k] else float("nan")
    mib = lambda v: v / 2**20
    print(f"| {c} | {g['r2']:.4f} | {s['r2']:.4f} | {g['fit_seconds']:.3f} | {s['fit_seconds']:.3f} | {ratio('fit_seconds'):.3f} | "
          f"{g['predict_seconds']*1e3:.1f} | {s['predict_seconds']*1e3:.1f} | {ratio('predict_seconds'):.3f} | "
          f"{g['predict_cpu_seconds']*1e3:.1f} | {s['predict_cpu_seconds']*1e3:.1f} | {ratio('predict_cpu_seconds'):.3f} | "
          f"{mib(g['model_bytes']):.2f} | {mib(s['model_bytes']):.2f} | {ratio('model_bytes'):.3f} | "
          f"{mib(g['peak_rss_bytes']):.0f} | {mib(s['peak_rss_bytes']):.0f} | {g['nodes']} | {s['nodes']} |")
PY
rm -f "$out"
