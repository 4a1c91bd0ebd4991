#!/usr/bin/env bash
# Issue 6 benchmark: the offline preference pipeline (prefrl offline) with the synthetic-vlm
# teacher (20% flipped labels, 10% unsure) and 2,000 labels on medium-replay datasets of
# reacher and pusher, 3 seeds; IQL on the learned reward vs IQL on the true reward and BC.
#
#   benchmarks/offline.sh                 # everything (datasets, 6 pipeline runs, summary)
#   UPDATES=5000 SEEDS="0 1 2" ENVS="reacher pusher" benchmarks/offline.sh
#   ENVS="" VARIANTS="flip:pusher" LANES=1 RESULTS=benchmarks/results/offline/results-flip-pusher.json benchmarks/offline.sh
#
# A small trial (31 s on a shared 2-core machine; its numbers mean nothing), out of the committed folders:
#   ROOT=/tmp/offline-trial RESULTS=/tmp/offline-trial/results.json ENVS=reacher SEEDS=0 LANES=1 \
#     DATA_STEPS=8192 LABELS=200 UPDATES=200 EVAL_EPISODES=5 bash benchmarks/offline.sh
# DATA_STEPS (PPO env steps of each env's medium-replay dataset; default reacher 100,000, pusher
# 200,000), LABELS (default 2,000) and EVAL_EPISODES (default 30) exist for such trials: the
# committed results use the defaults.
#
# RESULTS defaults to the committed benchmarks/results/offline/results.json: a trial names its own
# ROOT and RESULTS. A finished run or a dataset already in ROOT is reused whatever the budget
# variables say now. RESULTS records the command line with the budget it ran at.
#
# Variants (VARIANTS="flip:reacher oracle:reacher ...", default none), same dataset, labels,
# updates and seeds as the base runs:
#   flip    the noise-robust preference loss at the teacher's known error rate (--reward-flip-rate 0.2)
#   oracle  the oracle teacher (perfect partial-return labels): a control for the pipeline itself
#   frame   flip, with 1-step segments: the teacher still judges the state after the segment's
#           last step, and the reward model now scores that one transition (RL-VLM-F learns its
#           reward from single frames) instead of spreading the label over 50 steps
#   flip10  flip, with 10-step segments (between the two)
#   flip100 flip, with 100-step segments (half of a pusher or reacher episode): does a longer
#           run up to the judged frame carry more of the shaping the final frame leaves out?
#   flipnext flip, with the reward model seeing the state each step reaches too
#           (--reward-input obs-next-obs): the teacher judges the frame after a segment's last
#           step, which an obs-action model never sees
#   framenext frame with that input: the reward model scores the one transition whose end state
#           the teacher judged, seeing that state (RL-VLM-F's single-frame reward)
#   selflip flip, with the reward model's inputs chosen from the labels first
#           (--reward-select-inputs: forward selection by cross-validated label likelihood)
#   actflip flip, with the pairs chosen actively (--query disagreement --query-rounds 4): 500
#           uniform pairs first, then three rounds of 500 picked from 5,000 fresh candidates each
#           by the disagreement of a reward ensemble trained on the labels so far
# A variant's IQL-true and BC baselines are the base run's (same dataset, updates, widths and
# seed give bit-identical agents, see test/reward/offline.test.ts), copied rather than retrained;
# without a base run they come from another variant's finished run of the same env and seed in
# ROOT, and without either the variant trains them itself.
set -euo pipefail
cd "$(dirname "$0")/.."

UPDATES=${UPDATES:-5000}
SEEDS=${SEEDS:-"0 1 2"}
ENVS=${ENVS-"reacher pusher"}
LANES=${LANES:-2}
ROOT=${ROOT:-runs/bench-offline}
RESULTS=${RESULTS:-benchmarks/results/offline/results.json}
PREFRL=${PREFRL:-"npx tsx benchmarks/run_cli.ts"}
mkdir -p "$ROOT"

# Medium-replay datasets: PPO's rollout history on the true reward (prefrl collect).
declare -A STEPS=([reacher]=100000 [pusher]=200000)
DATA_STEPS=${DATA_STEPS:-}
LABELS=${LABELS:-2000}
EVAL_EPISODES=${EVAL_EPISODES:-30}
dataset() {
  local env=$1 out="$ROOT/data-$1-medium-replay.h5"
  if [[ ! -f $out ]]; then
    $PREFRL collect --env "$env" --policy medium-replay --steps "${DATA_STEPS:-${STEPS[$env]}}" --workers 0 --seed 0 \
      --runs-dir "$ROOT" --name "collect-$env-medium-replay" --out "$out" --quiet --json >"$ROOT/collect-$env.json"
  fi
  echo "$out"
}

lane() {
  local env=$1 data
  data=$(dataset "$env")
  for seed in $SEEDS; do
    local name="offline-$env-s$seed" dir
    dir=$(ls -d "$ROOT"/*-"$name" 2>/dev/null | tail -1 || true)
    if [[ -n $dir && -f $dir/summary.json ]]; then continue; fi
    if [[ -n $dir ]]; then
      $PREFRL offline --resume "$dir" --quiet --json >"$ROOT/$name.json"
    else
      $PREFRL offline --dataset "$data" --teacher synthetic-vlm --error-rate 0.2 --unsure-rate 0.1 --labels "$LABELS" \
        --segment-length 50 --reward-epochs 30 --updates "$UPDATES" --hidden 128,128 --eval-episodes "$EVAL_EPISODES" --seed "$seed" \
        --runs-dir "$ROOT" --name "$name" --quiet --json >"$ROOT/$name.json"
    fi
  done
}

VARIANTS=${VARIANTS:-}
variant_flags() {
  case $1 in
    flip|frame|flip10|flip100) echo "--teacher synthetic-vlm --error-rate 0.2 --unsure-rate 0.1 --reward-flip-rate 0.2" ;;
    flipnext|framenext) echo "--teacher synthetic-vlm --error-rate 0.2 --unsure-rate 0.1 --reward-flip-rate 0.2 --reward-input obs-next-obs" ;;
    selflip) echo "--teacher synthetic-vlm --error-rate 0.2 --unsure-rate 0.1 --reward-flip-rate 0.2 --reward-select-inputs" ;;
    actflip) echo "--teacher synthetic-vlm --error-rate 0.2 --unsure-rate 0.1 --reward-flip-rate 0.2 --query disagreement --query-rounds 4" ;;
    oracle) echo "--teacher oracle" ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}
variant_seglen() { case $1 in frame|framenext) echo 1 ;; flip10) echo 10 ;; flip100) echo 100 ;; *) echo 50 ;; esac; }
variant_run() {
  local variant=$1 env=$2 seed=$3 data name="offline-$2-$1-s$3" dir base
  dir=$(ls -d "$ROOT"/*-"$name" 2>/dev/null | tail -1 || true)
  if [[ -n $dir && -f $dir/summary.json ]]; then return; fi
  data=$(dataset "$env")
  # Without a base run (ENVS="" runs variants only) the baselines come from another finished run
  # of this env and seed (below) or are trained by the variant itself.
  base=$(ls -d "$ROOT"/*-"offline-$env-s$seed" 2>/dev/null | tail -1 || true)
  if [[ -z $base ]]; then
    for d in "$ROOT"/*-"offline-$env"-*-"s$seed"; do
      # (same IQL length: a root should hold one UPDATES, but a run of another length must not serve)
      if [[ $d != "$dir" && -f $d/summary.json && -d $d/artifacts/agents/iql-true && -d $d/artifacts/agents/bc ]] &&
        grep -Eq "\"updates\": *$UPDATES," "$d/config.json"; then base=$d; fi
    done
  fi
  if [[ -z $dir ]]; then
    # shellcheck disable=SC2046
    $PREFRL offline --dataset "$data" $(variant_flags "$variant") --labels "$LABELS" --segment-length "$(variant_seglen "$variant")" --reward-epochs 30 \
      --updates "$UPDATES" --hidden 128,128 --eval-episodes "$EVAL_EPISODES" --seed "$seed" --runs-dir "$ROOT" --name "$name" \
      --stage pairs --quiet --json >/dev/null
    dir=$(ls -d "$ROOT"/*-"$name" | tail -1)
  fi
  mkdir -p "$dir/artifacts/agents"
  if [[ -n $base ]]; then
    for a in iql-true bc; do
      [[ -d $dir/artifacts/agents/$a ]] || cp -r "$base/artifacts/agents/$a" "$dir/artifacts/agents/$a"
    done
  fi
  $PREFRL offline --resume "$dir" --quiet --json >"$ROOT/$name.json"
}

if [[ $LANES -ge 2 ]]; then
  pids=()
  for env in $ENVS; do lane "$env" 2>>"$ROOT/lane-$env.log" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
else
  for env in $ENVS; do lane "$env" 2>>"$ROOT/lane-$env.log"; done
fi

# Variant runs, LANES at a time (datasets first, so parallel runs never build one twice).
for v in $VARIANTS; do dataset "${v#*:}" >/dev/null; done
jobs_=()
for v in $VARIANTS; do
  for seed in $SEEDS; do
    variant_run "${v%%:*}" "${v#*:}" "$seed" 2>>"$ROOT/variant-${v%%:*}-${v#*:}-s$seed.log" &
    jobs_+=($!)
    if [[ ${#jobs_[@]} -ge $LANES ]]; then wait "${jobs_[0]}"; jobs_=("${jobs_[@]:1}"); fi
  done
done
for p in "${jobs_[@]}"; do wait "$p"; done

npx tsx benchmarks/offline_summary.ts "$ROOT" "$RESULTS" \
  "ROOT=$ROOT RESULTS=$RESULTS UPDATES=$UPDATES SEEDS=\"$SEEDS\" ENVS=\"$ENVS\" VARIANTS=\"$VARIANTS\"${DATA_STEPS:+ DATA_STEPS=$DATA_STEPS} LABELS=$LABELS EVAL_EPISODES=$EVAL_EPISODES bash benchmarks/offline.sh"
