// The vec env's hand-over, without envs: what one round of "main thread posts a command, W
// worker threads each busy-wait work/W microseconds, the last one to finish wakes the main
// thread" costs on this machine, for the waiting strategies tried in envs/vec.ts. Used to read
// the 1 vs 2 worker speed-up of `prefrl bench envs` (benchmarks/results/envs.md).
//
//   node benchmarks/handover.mjs [work us per round, default 120] [rounds, default 6000]
//
// Strategies (the main thread always ends in Atomics.wait on the pending count):
//   poll       workers poll for the next command for up to 0.3 ms before sleeping (vec.ts)
//   sleeplast  as poll, but the last worker to finish sleeps at once (leaves its core to main)
//   nopoll     workers sleep at once after each command
//   predict    as poll, and the main thread sleeps until 40 us before the round's predicted
//              end, then polls (takes a core while the workers still run)
// Prints the mean round time after 1,000 warm-up rounds and its excess over work / W.
import { Worker, isMainThread, workerData } from 'node:worker_threads';

const POLL_MS = 0.3;

if (isMainThread) {
  const work = Number(process.argv[2] ?? 120);
  const rounds = Number(process.argv[3] ?? 6000);
  const result = {};
  for (const strategy of ['poll', 'sleeplast', 'nopoll', 'predict']) {
    for (const workers of [1, 2]) {
      const us = await measure(strategy, workers, work, rounds);
      (result[strategy] ??= {})[workers] = us;
      console.log(`${strategy.padEnd(9)} ${workers} worker${workers > 1 ? 's' : ' '}: round ${us.toFixed(1)} us, hand-over ${(us - work / workers).toFixed(1)} us`);
    }
    console.log(`${strategy.padEnd(9)} speed-up 2 over 1: ${(result[strategy][1] / result[strategy][2]).toFixed(2)}`);
  }
} else {
  serve(workerData);
}

async function measure(strategy, workers, work, rounds) {
  // [0]: pending count; worker i's command counter at 16 * (i + 1) (own cache line).
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * 16 * (workers + 1)));
  const threads = [];
  for (let i = 0; i < workers; i++) threads.push(new Worker(new URL(import.meta.url), { workerData: { ctrl, index: i, share: work / workers, strategy } }));
  await new Promise((r) => setTimeout(r, 300));
  let estimate = 0;
  let t0 = 0;
  for (let k = 1; k <= rounds; k++) {
    if (k === 1000) t0 = performance.now();
    const start = performance.now();
    Atomics.store(ctrl, 0, workers);
    for (let i = 0; i < workers; i++) {
      Atomics.store(ctrl, 16 * (i + 1), k);
      Atomics.notify(ctrl, 16 * (i + 1));
    }
    if (strategy === 'predict' && estimate > 0) {
      const sleep = estimate - 0.04;
      const p = Atomics.load(ctrl, 0);
      if (sleep > 0 && p !== 0) Atomics.wait(ctrl, 0, p, sleep);
      const until = performance.now() + 0.2;
      while (Atomics.load(ctrl, 0) !== 0 && performance.now() < until) {
        // poll
      }
    }
    for (;;) {
      const p = Atomics.load(ctrl, 0);
      if (p === 0) break;
      Atomics.wait(ctrl, 0, p, 2);
    }
    const took = performance.now() - start;
    estimate = estimate === 0 ? took : 0.9 * estimate + 0.1 * took;
  }
  const us = ((performance.now() - t0) * 1000) / (rounds - 999);
  for (let i = 0; i < workers; i++) {
    Atomics.store(ctrl, 16 * (i + 1), -1);
    Atomics.notify(ctrl, 16 * (i + 1));
  }
  await Promise.all(threads.map((t) => new Promise((r) => t.once('exit', r))));
  return us;
}

function serve({ ctrl, index, share, strategy }) {
  const slot = 16 * (index + 1);
  let seen = 0;
  let last = false;
  for (;;) {
    const poll = strategy === 'poll' || strategy === 'predict' || (strategy === 'sleeplast' && !last);
    if (poll) {
      const until = performance.now() + POLL_MS;
      while (Atomics.load(ctrl, slot) === seen && performance.now() < until) {
        // poll
      }
    }
    Atomics.wait(ctrl, slot, seen);
    const v = Atomics.load(ctrl, slot);
    if (v === -1) return;
    if (v === seen) continue;
    seen = v;
    const end = performance.now() + share / 1000;
    while (performance.now() < end) {
      // the round's work
    }
    last = Atomics.sub(ctrl, 0, 1) === 1;
    if (last) Atomics.notify(ctrl, 0);
  }
}
