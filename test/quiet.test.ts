/** --quiet on a command with a progress bar: no progress lines on stderr, the same result. */
import { describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

describe('--quiet', () => {
  it('bench envs takes --quiet (as every other command with a progress bar) and then prints no progress line', async () => {
    // Without --quiet the captured stderr (not a terminal) ends with "bench envs 100% 6/6 measurements ... | done".
    const argv = ['bench', 'envs', '--envs', 'cartpole-swingup', '--no-native', '--duration', '0.05', '--warmup-seconds', '0', '--repeats', '1', '--vec-envs', '2', '--json', '--quiet'];
    const c = captureCli();
    expect(await main(argv, c.ctx), c.err.join('')).toBe(0);
    expect(c.err.join('')).not.toMatch(/bench envs .*measurements/);
    expect(lastJson<{ envs: { id: string }[] }>(c.out).envs.map((e) => e.id)).toEqual(['cartpole-swingup']);
  });
});
