#!/usr/bin/env python3
"""DuckDB peer of the `reports` bench: the standard report (one bin per channel) as SQL.

Usage: duckdb_report.py CSV DB LO HI MARGIN REPS

CSV holds `channel,t,v` rows (Unix seconds, shortest round-trip decimal values) written by the
bench. They are loaded into a table of the database file DB, sorted by channel and time (load
time reported apart, not part of the query timing). The query computes, per channel, over the
readings with LO - MARGIN <= t < HI + MARGIN + 1 (what the store's aggregation reads), the same
figures as the store's `Aggregator` for the bin [LO, HI): count, mean, min, max of the readings
inside the bin, and the counter consumption of consecutive pairs: an increase is split over the
bin in proportion to time, a drop (reset, meter replacement) counts nothing and one reset when
it falls inside the bin. DuckDB runs on one thread. Prints one JSON object on stdout.
"""

import json
import os
import sys
import time

import duckdb

QUERY = """
WITH r AS (
  SELECT channel, t, v,
         lag(t) OVER (PARTITION BY channel ORDER BY t) AS pt,
         lag(v) OVER (PARTITION BY channel ORDER BY t) AS pv
  FROM readings
  WHERE t >= $lo - $margin AND t < $hi + $margin + 1
)
SELECT channel,
  count(*) FILTER (WHERE t >= $lo AND t < $hi) AS n,
  avg(v) FILTER (WHERE t >= $lo AND t < $hi) AS mean,
  min(v) FILTER (WHERE t >= $lo AND t < $hi) AS lo_v,
  max(v) FILTER (WHERE t >= $lo AND t < $hi) AS hi_v,
  coalesce(sum((v - pv) * (least(t, $hi) - greatest(pt, $lo)) / (t - pt))
    FILTER (WHERE pt IS NOT NULL AND v >= pv AND t > $lo AND pt < $hi), 0.0) AS consumption,
  coalesce(sum(least(t, $hi) - greatest(pt, $lo))
    FILTER (WHERE pt IS NOT NULL AND v >= pv AND t > $lo AND pt < $hi), 0) AS covered,
  count(*) FILTER (WHERE pt IS NOT NULL AND v < pv AND t > $lo AND t < $hi) AS resets
FROM r
GROUP BY channel
ORDER BY channel
"""


def main() -> None:
    csv, db, lo, hi, margin, reps = sys.argv[1:7]
    lo, hi, margin, reps = int(lo), int(hi), int(margin), int(reps)
    if os.path.exists(db):
        os.remove(db)
    con = duckdb.connect(db)
    con.execute("SET threads=1")
    t0 = time.perf_counter()
    con.execute(
        "CREATE TABLE readings AS SELECT * FROM read_csv(?, header=true, "
        "columns={'channel': 'INTEGER', 't': 'BIGINT', 'v': 'DOUBLE'}) ORDER BY channel, t",
        [csv],
    )
    con.execute("CHECKPOINT")
    load = time.perf_counter() - t0
    rows = con.execute("SELECT count(*) FROM readings").fetchone()[0]
    params = {"lo": lo, "hi": hi, "margin": margin}
    times = []
    result = None
    for _ in range(reps):
        t = time.perf_counter()
        result = con.execute(QUERY, params).fetchall()
        times.append(time.perf_counter() - t)
    con.close()
    print(
        json.dumps(
            {
                "version": duckdb.__version__,
                "rows": rows,
                "load_secs": load,
                "db_bytes": os.path.getsize(db),
                "query_secs": times,
                "result": [[float(x) if x is not None else None for x in row] for row in result],
            }
        )
    )


if __name__ == "__main__":
    main()
