#!/usr/bin/env bash
# The okeanos demo, run by `make demo` once the virtualenv and the OpenSearch
# distribution are installed. It starts the local OpenSearch node, aggregates
# two real web logs and a generated job-board event stream with local Spark,
# prints a few rows of each view, and shows how to query the views.
#
# Each `okeanos local run` starts one Spark JVM and runs its jobs in it, so
# the demo starts three JVMs for its six runs. It takes a few minutes on two
# cores.
set -euo pipefail
cd "$(dirname "$0")/.."

OKEANOS=".venv/bin/okeanos"
REAL="../shared/data/real"
EVENTS=".okeanos/demo/events"

step() {
    printf '\n== %s\n' "$*"
}

step "Starting the local OpenSearch node"
"$OKEANOS" local opensearch start

step "Aggregating the Apache combined log (source web-apache)"
"$OKEANOS" local run --job http_status_hourly --job top_paths_daily \
    --format combined --input "$REAL/apache_combined_2015-05-17_18.log" --source web-apache

step "Aggregating the Nginx JSON log (source web-nginx)"
"$OKEANOS" local run --job http_status_hourly --job top_paths_daily \
    --format nginx-json --input "$REAL/nginx_json_2015-05-17_18.jsonl" --source web-nginx

step "Generating two days of job-board events into $EVENTS"
rm -rf "$EVENTS"
"$OKEANOS" generate events --out "$EVENTS" --start 2026-01-05T00:00:00Z --hours 48 --rate 500 --jobs 20

step "Aggregating the job-board events (source job-board)"
"$OKEANOS" local run --job clicks_by_day --job job_performance \
    --format events --input "$EVENTS" --source job-board

step "http_status_hourly, 17 May 2015 from 12:00 to 15:00 UTC"
"$OKEANOS" views show http_status_hourly --from 2015-05-17T12:00:00Z --to 2015-05-17T15:00:00Z

step "top_paths_daily, the 5 most requested paths per day and source"
"$OKEANOS" views show top_paths_daily --top 5

step "clicks_by_day, the 5 most clicked postings per day"
"$OKEANOS" views show clicks_by_day --top 5

step "job_performance, the 3 most shown postings per hour, 5 January 2026 from 09:00 to 12:00 UTC"
"$OKEANOS" views show job_performance --from 2026-01-05T09:00:00Z --to 2026-01-05T12:00:00Z --top 3

URL="$(.venv/bin/python -c 'from okeanos.settings import opensearch_url; print(opensearch_url())')"
PREFIX="$(.venv/bin/python -c 'from okeanos.settings import index_prefix; print(index_prefix())')"
cat <<EOF

== Querying the views
Every view as JSON lines (bucket, source, dimensions, metrics):
  $OKEANOS views show http_status_hourly --source web-nginx --json
  $OKEANOS views show top_paths_daily --from 2015-05-18 --to 2015-05-19 --top 10
Straight from OpenSearch:
  curl -s '$URL/$PREFIX-view-http_status_hourly/_search?q=source:web-apache&size=3&pretty'
  curl -s '$URL/$PREFIX-runs/_search?sort=started_at:desc&size=1&pretty'
List the jobs:
  $OKEANOS jobs

== Stopping OpenSearch when you are done
  $OKEANOS local opensearch stop
EOF
