/** Label stores for tests: a new store in a temp folder with given pairs and registered teachers. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';

/** A new store (env and model hash of the first pair) holding `pairs`, with `teachers` registered (id -> kind). */
export function storeWith(pairs: readonly Pair[], teachers: Readonly<Record<string, string>> = {}): LabelStore {
  const store = LabelStore.open(join(mkdtempSync(join(tmpdir(), 'prefrl-store-')), 'labels.sqlite'), { envId: pairs[0].a.envId, modelHash: pairs[0].a.modelHash });
  store.putPairs(pairs);
  for (const [id, kind] of Object.entries(teachers)) store.putTeacher({ id, kind });
  return store;
}
