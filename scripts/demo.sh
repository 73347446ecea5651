#!/usr/bin/env bash
# The okeanos demo, run by `make demo` once the virtualenv and the OpenSearch
# distribution are installed. It starts the local OpenSearch node, aggregates
# two real web logs and a generated job-board event stream with local Spark,
# prints a few rows of each view, and shows how to query the views.
#
# Each `okeanos local run` starts one Spark JVM and runs its jobs in it, so
# the demo starts three JVMs for its six runs, then five more for the cycles
# of the continuous loop (start, cycles, pause, resume). It takes a few
# minutes on two cores.
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

step "Keeping http_status_hourly running over a directory that receives logs (task web-loop)"
# Each cycle is one spark-submit step, as on EMR, and recomputes the last 48
# hours as of 2015-05-19T00:00Z, so slices of the Apache log that arrive
# between cycles are counted in the next one.
LOOP_INPUT="$PWD/.okeanos/demo/loop-input"
APACHE="$REAL/apache_combined_2015-05-17_18.log"
rm -rf "$LOOP_INPUT"
mkdir -p "$LOOP_INPUT"
head -n 1500 "$APACHE" >"$LOOP_INPUT/part-1.log"
LOOP=(http_status_hourly --task web-loop --input "$LOOP_INPUT" --format combined
      --runasof 2015-05-19T00:00:00Z --lastnhours 48 --interval 5)
"$OKEANOS" start http_status_hourly --task web-loop --input "$LOOP_INPUT" --format combined \
    --lastnhours 48 --interval 5
# Files are written under a hidden name and renamed, so no cycle reads half a file.
(
    sleep 20
    sed -n '1501,3000p' "$APACHE" >"$LOOP_INPUT/.part-2.log" && mv "$LOOP_INPUT/.part-2.log" "$LOOP_INPUT/part-2.log"
    echo "  (part-2.log arrived)"
    sleep 25
    sed -n '3001,$p' "$APACHE" >"$LOOP_INPUT/.part-3.log" && mv "$LOOP_INPUT/.part-3.log" "$LOOP_INPUT/part-3.log"
    echo "  (part-3.log arrived)"
) &
feeder=$!
"$OKEANOS" local loop "${LOOP[@]}" --cycles 3
wait "$feeder"

step "Pausing the task: the loop refuses to run until it is resumed"
"$OKEANOS" pause web-loop
"$OKEANOS" status web-loop
"$OKEANOS" local loop "${LOOP[@]}" --cycles 1 || true

step "Resuming the task: it catches up from its last completed window"
"$OKEANOS" resume web-loop
"$OKEANOS" local loop "${LOOP[@]}" --cycles 1
"$OKEANOS" status web-loop

step "http_status_hourly for web-loop equals the one-off run over the whole log (web-apache), 12:00 to 14:00 UTC"
"$OKEANOS" views show http_status_hourly --source web-loop --from 2015-05-17T12:00:00Z --to 2015-05-17T14:00:00Z
"$OKEANOS" views show http_status_hourly --source web-apache --from 2015-05-17T12:00:00Z --to 2015-05-17T14:00:00Z

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
List the jobs and the tasks:
  $OKEANOS jobs
  $OKEANOS status

== Stopping OpenSearch when you are done
  $OKEANOS local opensearch stop
EOF
