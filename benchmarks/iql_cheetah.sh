#!/usr/bin/env bash
# Issue 4, item 3: IQL on a cheetah-run medium-replay dataset made here.
#  1. prefrl collect: PPO's rollout history on the true reward (medium-replay, D4RL layout);
#  2. per seed, prefrl offline with the oracle teacher (B-Pref: prefers the higher true partial
#     return) and 500 labels of 50-step segments: reward model, relabel, IQL on the learned
#     reward, IQL on the true reward, BC, random policy, all evaluated on the true reward;
#  3. benchmarks/offline_summary.ts collects the runs into benchmarks/results/iql_cheetah/.
# Claims checked: IQL-true beats BC and the dataset's average episode return; IQL on the
# learned reward reaches at least 90% of IQL-true.
#
#   benchmarks/iql_cheetah.sh
#   UPDATES=10000 SEEDS="0 1 2" HIDDEN=128,128 benchmarks/iql_cheetah.sh
#
# A small trial (about 3 minutes of 2 cores: a 4,000-transition dataset, 100 IQL updates, one
# seed), with its runs and results out of the committed folder (OUT defaults to it):
#   ROOT=/tmp/iqlc OUT=/tmp/iqlc/out UPDATES=100 SEEDS=0 DATA_STEPS=4096 bash benchmarks/iql_cheetah.sh
# DATA_STEPS counts PPO env steps in whole iterations (4 envs x 512); a dataset already in ROOT
# is reused whatever DATA_STEPS says, and a finished seed in ROOT is not run again, so give a
# trial its own ROOT. results.json records this command line with the budget it ran at.
set -euo pipefail
cd "$(dirname "$0")/.."

UPDATES=${UPDATES:-10000}
SEEDS=${SEEDS:-"0 1 2"}
HIDDEN=${HIDDEN:-128,128}
DATA_STEPS=${DATA_STEPS:-200000}
TARGET=${TARGET:-400}
ROOT=${ROOT:-runs/bench-iql-cheetah}
OUT=${OUT:-benchmarks/results/iql_cheetah}
PREFRL=${PREFRL:-"node bin/prefrl.js"}
mkdir -p "$ROOT" "$OUT"

data="$ROOT/data-cheetah-run-medium-replay.h5"
if [[ ! -f $data ]]; then
  $PREFRL collect --env cheetah-run --policy medium-replay --steps "$DATA_STEPS" --target-return "$TARGET" --seed 0 \
    --runs-dir "$ROOT" --name collect-cheetah-run-medium-replay --out "$data" --quiet --json >"$ROOT/collect.json"
fi

for seed in $SEEDS; do
  name="offline-cheetah-run-oracle500-s$seed"
  dir=$(ls -d "$ROOT"/*-"$name" 2>/dev/null | tail -1 || true)
  if [[ -n $dir && -f $dir/summary.json ]]; then continue; fi
  if [[ -n $dir ]]; then
    $PREFRL offline --resume "$dir" --quiet --json >"$ROOT/$name.json"
  else
    $PREFRL offline --dataset "$data" --teacher oracle --labels 500 --segment-length 50 --reward-epochs 30 \
      --updates "$UPDATES" --hidden "$HIDDEN" --eval-episodes 10 --seed "$seed" \
      --runs-dir "$ROOT" --name "$name" --quiet --json >"$ROOT/$name.json"
  fi
done

cp "$ROOT/collect.json" "$OUT/collect.json"
npx tsx benchmarks/offline_summary.ts "$ROOT" "$OUT/results.json" \
  "ROOT=$ROOT OUT=$OUT UPDATES=$UPDATES SEEDS=\"$SEEDS\" HIDDEN=$HIDDEN DATA_STEPS=$DATA_STEPS TARGET=$TARGET bash benchmarks/iql_cheetah.sh"
