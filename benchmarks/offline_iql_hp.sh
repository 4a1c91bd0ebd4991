#!/usr/bin/env bash
# IQL's own hyper-parameters on the offline benchmark's learned rewards (issue 6): retrain IQL
# with another expectile and inverse temperature on the true reward and on a variant's reward
# model, for each seed, so the normalised ratio compares two agents trained alike.
#
#   ROOT=runs/bench-offline-select VARIANT=selflip ENV=pusher SEEDS="9 10 11" EXPECTILE=0.9 BETA=10 \
#     bash benchmarks/offline_iql_hp.sh
#
# Needs ROOT's dataset (data-<env>-medium-replay.h5) and a finished run
# <stamp>-offline-<env>-<variant>-s<seed> per seed (benchmarks/offline.sh). Writes run folders and
# one JSON summary per run to OUT (default runs/iql-hp); the true and the learned run of a seed go
# side by side. Normalise with each seed's random return from the variant's summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${ROOT:-runs/bench-offline-select}
VARIANT=${VARIANT:-selflip}
ENV=${ENV:-pusher}
SEEDS=${SEEDS:-"9 10 11"}
EXPECTILE=${EXPECTILE:-0.9}
BETA=${BETA:-10}
UPDATES=${UPDATES:-20000}
OUT=${OUT:-runs/iql-hp}
PREFRL=${PREFRL:-"node bin/prefrl.js"}
DATA=$ROOT/data-$ENV-medium-replay.h5
TAG="e${EXPECTILE//./}b${BETA//./}"   # e09b10 for 0.9 and 10

[[ -f $DATA ]] || { echo "offline_iql_hp.sh: no dataset $DATA (run benchmarks/offline.sh with ROOT=$ROOT first)" >&2; exit 2; }
mkdir -p "$OUT"

one() {
  local reward=$1 kind=$2 seed=$3 name="iql-$TAG-$2-$ENV-s$3"
  if [[ -s $OUT/$name.json ]]; then return; fi   # done before
  $PREFRL iql --dataset "$DATA" --reward "$reward" --updates "$UPDATES" --hidden 128,128 --eval-episodes 30 \
    --expectile "$EXPECTILE" --beta "$BETA" --seed "$seed" --runs-dir "$OUT" --name "$name" --quiet --json \
    >"$OUT/$name.json" 2>"$OUT/$name.log"
}

for seed in $SEEDS; do
  run=$(ls -d "$ROOT"/*-"offline-$ENV-$VARIANT-s$seed" 2>/dev/null | tail -1 || true)
  [[ -n $run && -d $run/artifacts/reward_model ]] || { echo "offline_iql_hp.sh: no finished $VARIANT run for seed $seed in $ROOT" >&2; exit 2; }
  one true true "$seed" &
  p1=$!
  one "model:$run/artifacts/reward_model" "$VARIANT" "$seed" &
  p2=$!
  wait "$p1"
  wait "$p2"
done
