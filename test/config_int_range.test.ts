/**
 * Integer flags and config keys hold only integers a double represents exactly: a larger one
 * (a seed such as 9007199254740993, which JavaScript reads as ...992) is refused naming the flag
 * or the file and key, not silently replaced by a neighbour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flags, parseFlags, validateConfig } from '../core/config.js';
import { expectUsageError } from './helpers/cli.js';

const spec = { command: 'prefrl t', summary: '', flags: { seed: flags.int({ doc: 'seed', default: 0 }), rate: flags.float({ doc: 'rate', default: 0 }) } };
const dir = mkdtempSync(join(tmpdir(), 'prefrl-int-range-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('integer flags beyond 2^53', () => {
  it('the largest exact integers pass; one more is refused on the command line and in a config file', () => {
    expect(parseFlags(['--seed', '9007199254740991'], spec).flags.seed).toBe(9007199254740991);
    expect(parseFlags(['--seed', '-9007199254740991'], spec).flags.seed).toBe(-9007199254740991);
    expect(parseFlags(['--seed', '1e3'], spec).flags.seed).toBe(1000);
    for (const text of ['9007199254740992', '9007199254740993', '99999999999999999999', '1e20', '-9007199254740993']) {
      expect(() => parseFlags(['--seed', text], spec)).toThrow(`prefrl t: --seed: expected an integer of magnitude at most 9007199254740991, got "${text}"`);
    }
    // Floats keep their range: a large rate is a number, not an integer.
    expect(parseFlags(['--rate', '1e20'], spec).flags.rate).toBe(1e20);
    expect(() => validateConfig({ seed: 2 ** 60 }, spec.flags, 'run/config.json')).toThrow(`run/config.json (seed): expected an integer of magnitude at most 9007199254740991, got ${2 ** 60}`);
  });

  it('prefrl rollout --seed 9007199254740993: exit 2, naming --seed, no run folder', async () => {
    await expectUsageError(['rollout', '--seed', '9007199254740993', '--episodes', '1'], join(dir, 'runs'), /^prefrl rollout: --seed: expected an integer of magnitude at most 9007199254740991, got "9007199254740993"\n$/);
  });
});
