#!/usr/bin/python3
# Interleaved A/B of bench_calibrate builds (Fp32Forwards vs Statistics/skip_propagated:1) on a
# noisy shared machine: the builds run alternately (A B, then B A, ...) so both see the same
# load, each run with 5 repetitions; prints each run's ratio of minima, then per build the min
# and median over all repetitions and their ratios.
# usage: OCTET_CALIB_MODEL=<test prototxt with Data layer> OCTET_CALIB_WEIGHTS=<fp32umodel> \
#          bench_calibrate_ab.py <rounds> <name>=<bin dir with bench_calibrate> ...
# (bench_calibrate.sh makes the model from the demo.) Run with /usr/bin/python3.
import json
import os
import statistics
import subprocess
import sys

if len(sys.argv) < 3 or not os.environ.get("OCTET_CALIB_MODEL") or not os.environ.get("OCTET_CALIB_WEIGHTS"):
    sys.exit(__doc__ or "usage: see the header of bench_calibrate_ab.py")
rounds = int(sys.argv[1])
builds = [a.split("=", 1) for a in sys.argv[2:]]
FWD, STATS = "Fp32Forwards", "Statistics/skip_propagated:1"
res = {name: {FWD: [], STATS: []} for name, _ in builds}
for r in range(rounds):
    for name, bindir in builds if r % 2 == 0 else builds[::-1]:
        out = subprocess.run([os.path.join(bindir, "bench_calibrate"), f"--benchmark_filter={FWD}|{STATS}",
                              "--benchmark_repetitions=5", "--benchmark_format=json"],
                             capture_output=True, text=True, check=True).stdout
        run = {FWD: [], STATS: []}
        for b in json.loads(out)["benchmarks"]:
            n = b["name"].replace("/real_time", "")
            if b.get("run_type") == "iteration" and n in run:
                run[n].append(b["cpu_time"])
                res[name][n].append(b["cpu_time"])
        f, s = min(run[FWD]), min(run[STATS])
        print(f"round {r} {name:10s} forwards {f:6.1f} statistics {s:6.1f} ratio {s / f:.3f} "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
for name, d in res.items():
    f, s = d[FWD], d[STATS]
    fm, sm = statistics.median(f), statistics.median(s)
    print(f"{name:10s} forwards min {min(f):6.1f} med {fm:6.1f} | statistics min {min(s):6.1f} med {sm:6.1f} | "
          f"ratio of minima {min(s) / min(f):.3f}, of medians {sm / fm:.3f} (target <= 1.25)")
