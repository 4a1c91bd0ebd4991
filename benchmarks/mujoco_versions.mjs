// One @mujoco/mujoco build on one built-in model: bare physics steps/s and a digest of the state
// it reaches. Run by benchmarks/mujoco_versions.sh, once per version and model, each in its own
// process (one WASM module per process, as the envs use it).
//
//   node benchmarks/mujoco_versions.mjs <package folder> <model> <frame skip> [seconds] [repeats]
//
// Timing: the loop of `prefrl bench envs`' physics-only column (controls from a pool of random
// values, mj_step x frame skip, mj_resetData + mj_forward every 200 env steps), after a 2 s
// warm-up (V8 tiers the WASM up); prints the median of the repeats.
// Digest: 1,000 env steps from the model's initial state with controls from a fixed linear
// congruential sequence, no resets; the SHA-256 of qpos and qvel printed to 17 significant digits,
// so two builds with the same digest computed the same trajectory to the last bit.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, model, skipArg, secondsArg = '1', repeatsArg = '5'] = process.argv.slice(2);
if (!pkg || !model || !skipArg) {
  console.error('usage: node benchmarks/mujoco_versions.mjs <package folder> <model> <frame skip> [seconds] [repeats]');
  process.exit(2);
}
const frameSkip = Number(skipArg);
const seconds = Number(secondsArg);
const repeats = Number(repeatsArg);
const version = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version;
const load = (await import(pathToFileURL(join(pkg, 'mujoco.js')).href)).default;
const mj = await load();
const xml = readFileSync(new URL(`../envs/assets/${model}.xml`, import.meta.url), 'utf8');
const m = mj.MjModel.from_xml_string(xml);
const d = new mj.MjData(m);

// The digest first, from the freshly made data.
let s = 12345;
const next = () => {
  s = (s * 1103515245 + 12345) % 2147483648;
  return (s / 2147483648) * 2 - 1;
};
mj.mj_forward(m, d);
for (let t = 0; t < 1000; t++) {
  for (let i = 0; i < m.nu; i++) d.ctrl[i] = next();
  for (let f = 0; f < frameSkip; f++) mj.mj_step(m, d);
}
const state = [...d.qpos, ...d.qvel].map((x) => x.toPrecision(17)).join(',');
const digest = createHash('sha256').update(state).digest('hex').slice(0, 16);

// Then the timing.
const pool = [];
for (let i = 0; i < 4096; i++) pool.push(Float64Array.from({ length: m.nu }, () => Math.random() * 2 - 1));
mj.mj_resetData(m, d);
mj.mj_forward(m, d);
let t = 0;
function run(sec) {
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < sec * 1000) {
    for (let k = 0; k < 64; k++) {
      d.ctrl.set(pool[(n + k) & 4095]);
      for (let f = 0; f < frameSkip; f++) mj.mj_step(m, d);
      if (++t >= 200) {
        t = 0;
        mj.mj_resetData(m, d);
        mj.mj_forward(m, d);
      }
    }
    n += 64;
    t1 = performance.now();
  }
  return n / ((t1 - t0) / 1000);
}
run(2);
const rates = [];
for (let r = 0; r < repeats; r++) rates.push(run(seconds));
rates.sort((a, b) => a - b);
d.delete();
m.delete();
console.log(JSON.stringify({ version, mujoco: mj.mj_versionString(), model, frameSkip, stepsPerSec: rates[rates.length >> 1], digest }));
