/**
 * Entry point of an input-selection worker thread (see ScoringPool in reward/select.ts): loads
 * the tensor backend the selecting thread uses, posts `ready`, then scores each candidate set it
 * is sent with `candidateLogits` and posts the logits back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../core/backend.js';
import { candidateLogits, type ScoringReply, type ScoringRequest, type ScoringWorkerInit } from './select.js';

const port = parentPort;
if (!port) throw new Error('reward/select_worker: must run as a worker thread (started by selectInputs)');
const init = workerData as ScoringWorkerInit;
const post = (m: ScoringReply): void => port.postMessage(m);
try {
  await initBackend(init.backend);
  port.on('message', (m: ScoringRequest) => {
    candidateLogits(init.job, m.units).then(
      (logits) => post({ type: 'result', id: m.id, logits }),
      (e: unknown) => post({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) }),
    );
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'error', id: null, message: e instanceof Error ? e.message : String(e) });
}
