#!/usr/bin/env bash
# Issue 6 diagnostic: IQL with the synthetic-vlm teacher's own criterion as the reward.
# The teacher judges a segment by the env's task-success measure at its final state; here IQL
# gets that measure on every transition (prefrl iql --reward success), noise-free, with the
# same dataset, updates, widths, evaluation episodes and seeds as benchmarks/offline.sh's base
# runs in the same ROOT. The result bounds what a reward learned from that teacher's labels
# can reach; it is reported normalised like the pipeline, (R - random) / (IQL true - random),
# with the base runs' IQL-true and random returns of the same seed.
#
#   ROOT=runs/bench-offline-graded-20k UPDATES=20000 RESULTS=benchmarks/results/offline/success-20k.json benchmarks/offline_success.sh
#
# CHECK_TRUE="reacher:0" also runs `prefrl iql --reward true` for those env:seed pairs: it must
# reproduce the base run's IQL-true return exactly (same agent, same evaluation episodes).
set -euo pipefail
cd "$(dirname "$0")/.."

UPDATES=${UPDATES:-5000}
SEEDS=${SEEDS:-"0 1 2"}
ENVS=${ENVS-"reacher pusher"}
ROOT=${ROOT:-runs/bench-offline}
RESULTS=${RESULTS:?set RESULTS to the results file to write}
CHECK_TRUE=${CHECK_TRUE:-}
PREFRL=${PREFRL:-"npx tsx benchmarks/run_cli.ts"}

run_iql() {
  local reward=$1 env=$2 seed=$3 data="$ROOT/data-$2-medium-replay.h5" name="iql-$1-$2-s$3"
  [[ -f $data ]] || { echo "offline_success.sh: $data not found (run benchmarks/offline.sh with ROOT=$ROOT first)" >&2; exit 2; }
  if [[ -s $ROOT/$name.json ]]; then return; fi
  $PREFRL iql --dataset "$data" --reward "$reward" --updates "$UPDATES" --hidden 128,128 --eval-episodes 30 \
    --eval-every "$UPDATES" --seed "$seed" --runs-dir "$ROOT" --name "$name" --quiet --json >"$ROOT/$name.json.part"
  mv "$ROOT/$name.json.part" "$ROOT/$name.json"
}

for pair in $CHECK_TRUE; do run_iql true "${pair%%:*}" "${pair##*:}"; done
for env in $ENVS; do
  for seed in $SEEDS; do run_iql success "$env" "$seed"; done
done
npx tsx benchmarks/offline_success_summary.ts "$ROOT" "$RESULTS" \
  "ROOT=$ROOT RESULTS=$RESULTS UPDATES=$UPDATES SEEDS=\"$SEEDS\" ENVS=\"$ENVS\"${CHECK_TRUE:+ CHECK_TRUE=\"$CHECK_TRUE\"} bash benchmarks/offline_success.sh"
