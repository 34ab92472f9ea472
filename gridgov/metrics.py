"""Process-wide counters for Prometheus: what the service did since it started.

Counters live in prometheus-client's default registry (one set per process, as Prometheus
expects; a scrape of each worker sums them). Gauges that describe the database (incidents by
status, the webhook backlog) are computed at scrape time by the web layer instead.
"""

from __future__ import annotations

from prometheus_client import Counter

ESCALATIONS = Counter(
    "gridgov_escalations", "Incidents escalated by the scheduler, by what happened", ["kind"]
)
READINGS_RECEIVED = Counter("gridgov_readings_received", "Sensor readings received in batches")
READINGS_WRITTEN = Counter("gridgov_readings_written", "Sensor readings written (not duplicates)")
POSITIONS_ACCEPTED = Counter("gridgov_positions_accepted", "Tracker positions accepted")
POSITIONS_REFUSED = Counter("gridgov_positions_refused", "Tracker positions refused row by row")
