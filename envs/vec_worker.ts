/**
 * Entry point of a vec env worker thread (see envs/vec.ts for the protocol).
 *
 * 1. build this worker's envs with `makeEnv` (its own MuJoCo module) from workerData;
 * 2. post `{type: 'ready', spec}`, or `{type: 'error', error}` and end;
 * 3. on the `start` message (shared buffers), serve commands until told to close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { makeEnv } from './registry.js';
import type { Env } from './types.js';
import { EnvGroup, errorPayload, serveCommands, type StartMessage, type WorkerInit, type WorkerMessage } from './vec.js';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('envs/vec_worker: must run as a worker thread (started by createVecEnv)');
  const init = workerData as WorkerInit;
  const envs: Env[] = [];
  try {
    for (const seed of init.seeds) envs.push(await makeEnv({ ...init.config, seed }));
  } catch (e) {
    for (const env of envs) env.dispose();
    const msg: WorkerMessage = { type: 'error', error: errorPayload(e) };
    port.postMessage(msg);
    port.close();
    return;
  }
  port.once('message', (m: StartMessage) => {
    serveCommands(new EnvGroup(envs, init.start, m.buffers), m.ctrl, m.err, init.index);
    port.close();
  });
  const ready: WorkerMessage = { type: 'ready', spec: envs[0].spec };
  port.postMessage(ready);
}

await main();
