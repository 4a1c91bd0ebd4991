#!/usr/bin/env bash
# Which @mujoco/mujoco build to pin: bare physics speed of several published versions on the six
# built-in models, and whether they compute the same trajectories as the pinned one.
#
#   bash benchmarks/mujoco_versions.sh                 # versions 3.9.0 3.10.0 3.14.0, 2 rounds
#   VERSIONS="3.9.0 3.14.0" ROUNDS=3 bash benchmarks/mujoco_versions.sh
#
# Each version is installed from the npm registry into $OUT/<version> (default
# tmp/mujoco-versions; a second run reuses it). Each (round, model, version) runs
# benchmarks/mujoco_versions.mjs in its own process, versions interleaved within a round so
# that load on the machine falls on all of them alike. Prints one JSON line per measurement,
# then a table: median steps/s over the rounds, its ratio to the pinned version's (package.json),
# and whether the 1,000-step trajectory's digest equals the pinned version's.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-tmp/mujoco-versions}
VERSIONS=${VERSIONS:-"3.9.0 3.10.0 3.14.0"}
ROUNDS=${ROUNDS:-2}
pinned=$(node -p "require('./package.json').dependencies['@mujoco/mujoco']")
case " $VERSIONS " in *" $pinned "*) ;; *) VERSIONS="$pinned $VERSIONS" ;; esac
for v in $VERSIONS; do
  if [[ ! -f $OUT/$v/node_modules/@mujoco/mujoco/mujoco.js ]]; then
    mkdir -p "$OUT/$v"
    echo "installing @mujoco/mujoco@$v into $OUT/$v" >&2
    npm install --prefix "$OUT/$v" --no-save --no-audit --no-fund --no-package-lock "@mujoco/mujoco@$v" >&2
  fi
done
log=$OUT/results.jsonl
: > "$log"
models="cartpole:2 reacher:2 cheetah:5 hopper:4 walker:4 pusher:5"
for r in $(seq 1 "$ROUNDS"); do
  for mf in $models; do
    for v in $VERSIONS; do
      node benchmarks/mujoco_versions.mjs "$OUT/$v/node_modules/@mujoco/mujoco" "${mf%%:*}" "${mf##*:}" | tee -a "$log"
    done
  done
done
node - "$log" "$pinned" <<'EOF'
const [file, pinned] = process.argv.slice(2);
const rows = require('node:fs').readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const median = (a) => { const s = [...a].sort((x, y) => x - y); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const models = [...new Set(rows.map((r) => r.model))];
const versions = [...new Set(rows.map((r) => r.version))];
const at = (m, v) => rows.filter((r) => r.model === m && r.version === v);
console.log(`\nmedian over rounds of bare physics env steps/s; ratio to the pinned ${pinned}; same: 1,000-step trajectory bit-identical to ${pinned}'s`);
console.log(['model'.padEnd(9), ...versions.map((v) => `${v} steps/s  ratio  same`.padStart(28))].join(''));
for (const m of models) {
  const ref = median(at(m, pinned).map((r) => r.stepsPerSec));
  const refDigest = at(m, pinned)[0].digest;
  console.log([m.padEnd(9), ...versions.map((v) => {
    const x = median(at(m, v).map((r) => r.stepsPerSec));
    const same = at(m, v).every((r) => r.digest === refDigest) ? 'yes' : 'no';
    return `${(x / 1000).toFixed(1)}k  ${(x / ref).toFixed(2)}  ${same}`.padStart(28);
  })].join(''));
}
EOF
