import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDataset, writeDataset } from '../../agents/dataset.js';
import { isSystemError } from '../../core/files.js';
import { noisyToyTrajectories, toyReachDataset } from '../helpers/toy_dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-dataset-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writing a dataset on a full disk', () => {
  // Linux's /dev/full fails every write with ENOSPC: the temporary file the dataset is written
  // through is made a link to it, as if the disk filled while HDF5 wrote.
  it.skipIf(!existsSync('/dev/full'))('fails with one line naming the dataset and ENOSPC; the dataset that was there is kept, no temporary file is left', async () => {
    const ds = toyReachDataset(noisyToyTrajectories({ episodes: 2, noiseSeed: 1, firstSeed: 10, noise: () => 0.5 }));
    const file = join(dir, 'data.h5');
    await writeDataset(file, ds);
    const before = readFileSync(file);
    symlinkSync('/dev/full', `${file}.tmp-${process.pid}`);
    let thrown: unknown;
    try {
      await writeDataset(file, ds);
    } catch (e) {
      thrown = e;
    }
    expect((thrown as Error).message).toBe(`cannot write ${file}: no space left on device (ENOSPC)`);
    // A system error as Node's: the CLI prints it without a stack.
    expect(isSystemError(thrown)).toBe(true);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['data.h5']);
    expect((await readDataset(file)).size).toBe(ds.size);
  });

});
