#!/bin/sh
# plot.sh: draws a benchmark run's figures as a PNG (Debian's python3-matplotlib).
#
#   bench/plot.sh SUMMARY.tsv [OUT.png]
#
# SUMMARY.tsv is what bench/run.sh writes with BENCH_SUMMARY=SUMMARY.tsv (the
# median round of each configuration). OUT.png (docs/performance.png by
# default) gets three panels: throughput and p99 latency per configuration,
# and the rate of back-end body through the gateway against the body's size
# (plain proxying and mod_pds, 1 KB record, 100 KB and 1 MB collections).
set -eu
bench=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: bench/plot.sh SUMMARY.tsv [OUT.png]" >&2; exit 2; }
[ -f "$1" ] || { echo "plot.sh: no file $1" >&2; exit 1; }
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
    { echo "plot.sh: matplotlib is missing (apt-get install python3-matplotlib)" >&2; exit 1; }
exec /usr/bin/python3 - "$1" "${2:-$bench/../docs/performance.png}" <<'EOF'
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
rows = [r for r in rows if r["config"] != "backend"]
names = [r["config"] for r in rows]
rps = [float(r["rps"]) for r in rows]
p99 = [float(r["p99_ms"]) for r in rows]
colour = ["#888888" if n.startswith("plain") else "#1f77b4" if n.startswith("pds")
          else "#d62728" for n in names]

fig, ax = plt.subplots(1, 3, figsize=(16, 5))
ax[0].bar(names, rps, color=colour)
ax[0].set_title("throughput (req/s, median round)")
ax[0].set_yscale("log")
ax[1].bar(names, p99, color=colour)
ax[1].set_title("p99 latency (ms, median round)")
ax[1].set_yscale("log")
for a in ax[:2]:
    a.tick_params(axis="x", rotation=60)
    a.grid(axis="y", alpha=0.3)

# MB/s of back-end body against its size, for plain and pds.
by = {r["config"]: r for r in rows}
for kind, label, style in (("plain", "plain proxying", "o--"), ("pds", "mod_pds", "s-")):
    pts = []
    for cfg in (kind, kind + "c-100k", kind + "c-1m"):
        if cfg in by:
            pts.append((int(by[cfg]["body_bytes"]) / 1000.0, float(by[cfg]["mb_s"])))
    if pts:
        ax[2].plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
ax[2].set_xscale("log")
ax[2].set_yscale("log")
ax[2].set_xlabel("back-end body (KB)")
ax[2].set_title("body through the gateway (MB/s)")
ax[2].legend()
ax[2].grid(alpha=0.3)
fig.suptitle("mod_pds benchmark (bench/run.sh; grey: plain, blue: mod_pds, red: peers; "
             "noisy shared 2-CPU machine)")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=80)
print("plot.sh: wrote %s" % sys.argv[2])
EOF
