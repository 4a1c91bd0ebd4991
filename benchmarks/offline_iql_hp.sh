#!/usr/bin/env bash
# IQL's own hyper-parameters on the offline benchmark's learned rewards (issue 6): retrain IQL
# with another expectile and inverse temperature on the true reward and on a variant's reward
# model, for each seed, so the normalised ratio compares two agents trained alike.
#
#   ROOT=runs/bench-offline-select VARIANT=selflip ENV=pusher SEEDS="9 10 11" EXPECTILE=0.9 BETA=10 \
#     RESULTS=benchmarks/results/offline/results-iql-e09b10.json bash benchmarks/offline_iql_hp.sh
#
# Needs ROOT's dataset (data-<env>-medium-replay.h5) and a finished run
# <stamp>-offline-<env>-<variant>-s<seed> per seed (benchmarks/offline.sh). Writes run folders and
# one JSON summary per run to OUT (default runs/iql-hp); the true and the learned run of a seed go
# side by side. Last, a summary (printed, and written to RESULTS when set): per seed the final true
# returns, their evaluation curves and the normalised ratio, with the random policy's return from
# the variant run's summary.json (returns.random.meanReturn). Finished runs are not run again.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${ROOT:-runs/bench-offline-select}
VARIANT=${VARIANT:-selflip}
ENV=${ENV:-pusher}
SEEDS=${SEEDS:-"9 10 11"}
EXPECTILE=${EXPECTILE:-0.9}
BETA=${BETA:-10}
UPDATES=${UPDATES:-20000}
RESULTS=${RESULTS:-}
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

# Summary of every seed (node: no dependency beyond the one the CLI needs).
runs=()
for seed in $SEEDS; do runs+=("$seed" "$(ls -d "$ROOT"/*-"offline-$ENV-$VARIANT-s$seed" | tail -1)"); done
node - "$OUT" "$TAG" "$VARIANT" "$ENV" "$RESULTS" "${runs[@]}" <<'JS'
const fs = require('node:fs');
const [out, tag, variant, env, results, ...rest] = process.argv.slice(2);
const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8').trim().split('\n').pop());
const rows = [];
for (let i = 0; i < rest.length; i += 2) {
  const seed = Number(rest[i]);
  const random = JSON.parse(fs.readFileSync(`${rest[i + 1]}/summary.json`, 'utf8')).returns.random.meanReturn;
  const t = read(`${out}/iql-${tag}-true-${env}-s${seed}.json`);
  const l = read(`${out}/iql-${tag}-${variant}-${env}-s${seed}.json`);
  rows.push({
    seed, random, iqlTrue: t.finalTrueReturn, iqlLearned: l.finalTrueReturn,
    normalizedRatio: (l.finalTrueReturn - random) / (t.finalTrueReturn - random),
    evalsTrue: t.evals, evalsLearned: l.evals,
    rewardTransitionCorrelation: l.rewardTransitionCorrelation, rewardReturnCorrelation: l.rewardReturnCorrelation,
    runDirTrue: t.runDir, runDirLearned: l.runDir,
  });
}
const mean = rows.reduce((s, r) => s + r.normalizedRatio, 0) / rows.length;
const summary = { tag, variant, env, runs: rows, meanNormalizedRatio: mean };
for (const r of rows) console.log(`seed ${r.seed}: IQL-true ${r.iqlTrue.toFixed(1)}, IQL learned ${r.iqlLearned.toFixed(1)}, random ${r.random.toFixed(1)}, normalised ${r.normalizedRatio.toFixed(3)}`);
console.log(`mean normalised ratio ${mean.toFixed(3)}`);
if (results) fs.writeFileSync(results, `${JSON.stringify(summary, null, 2)}\n`);
JS
