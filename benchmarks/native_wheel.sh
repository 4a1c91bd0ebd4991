#!/usr/bin/env bash
# Native MuJoCo of the same version as the WASM build, for `prefrl bench envs --native-mujoco`:
# downloads the MuJoCo Python wheel of the version of node_modules/@mujoco/mujoco with pip
# (no dependencies, nothing installed), unpacks it, and prints the folder that holds
# include/mujoco/mujoco.h and libmujoco.so.<version>.
#
#   dir=$(bash benchmarks/native_wheel.sh) && npx prefrl bench envs --native-mujoco "$dir" --json
#
# OUT (default tmp/mujoco-wheel) receives the wheel and its contents; a second run reuses them.
# Needs python3 with pip and a package index that has the wheel (pip's own configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-tmp/mujoco-wheel}
version=$(node -p "require('./node_modules/@mujoco/mujoco/package.json').version")
dir="$OUT/mujoco-$version"
if [[ ! -f $dir/mujoco/libmujoco.so.$version ]]; then
  mkdir -p "$OUT"
  python3 -m pip download "mujoco==$version" --no-deps --only-binary=:all: -d "$OUT" >&2
  wheel=$(ls "$OUT"/mujoco-"$version"-*.whl | head -1)
  rm -rf "$dir"
  mkdir -p "$dir"
  python3 -m zipfile -e "$wheel" "$dir" >&2
fi
[[ -f $dir/mujoco/include/mujoco/mujoco.h ]] || { echo "native_wheel.sh: $dir/mujoco has no include/mujoco/mujoco.h" >&2; exit 1; }
echo "$dir/mujoco"
