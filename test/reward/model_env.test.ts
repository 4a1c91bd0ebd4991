// The env a reward model was trained on (meta.env): recorded from the segments of its pairs, and
// compared with a dataset's or a run's env before the model is used on it.
import { describe, expect, it } from 'vitest';
import { envFit, modelEnv } from '../../reward/network.js';
import { segmentsEnv } from '../../reward/train.js';
import type { Pair } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

const seg = (id: string, envId: string, modelHash: string) => handSegment(id, 3, { envId, modelHash });
const pair = (a: ReturnType<typeof seg>, b: ReturnType<typeof seg>): Pair => ({ id: `${a.id}|${b.id}`, a, b });

describe('reward model env', () => {
  it('segmentsEnv: the one env of every segment, else none (mixed envs or hashes, unknown, no pairs)', () => {
    expect(segmentsEnv([pair(seg('a', 'reacher', 'h1'), seg('b', 'reacher', 'h1')), pair(seg('c', 'reacher', 'h1'), seg('d', 'reacher', 'h1'))])).toEqual({ id: 'reacher', modelHash: 'h1' });
    expect(segmentsEnv([pair(seg('a', 'reacher', 'h1'), seg('b', 'reacher', 'h2'))])).toBeUndefined();
    expect(segmentsEnv([pair(seg('a', 'reacher', 'h1'), seg('b', 'reacher', 'h1')), pair(seg('c', 'pusher', 'h1'), seg('d', 'pusher', 'h1'))])).toBeUndefined();
    expect(segmentsEnv([pair(seg('a', 'unknown', 'unknown'), seg('b', 'unknown', 'unknown'))])).toBeUndefined();
    expect(segmentsEnv([])).toBeUndefined();
  });

  it('envFit: an error for another env id, a warning for the same id from another model file, nothing when it fits or a side does not say', () => {
    const net = { meta: { env: { id: 'reacher', modelHash: 'h1' } } };
    expect(modelEnv(net)).toEqual({ id: 'reacher', modelHash: 'h1' });
    expect(envFit(net, 'pusher', 'h9', 'the dataset was recorded on')).toEqual({ error: 'the model was trained on segments of reacher; the dataset was recorded on pusher' });
    expect(envFit(net, 'reacher', 'h2', 'this run is on')).toEqual({ warning: 'the model was trained on segments of reacher from another model file (hash h1); this run is on reacher with hash h2' });
    expect(envFit(net, 'reacher', 'h1', 'x')).toEqual({});
    expect(envFit(net, undefined, undefined, 'x')).toEqual({});
    expect(envFit(net, 'unknown', 'h1', 'x')).toEqual({});
    // Models saved before meta.env, or with a damaged one, are not checked.
    expect(envFit({ meta: {} }, 'pusher', 'h9', 'x')).toEqual({});
    expect(modelEnv({ meta: { env: { id: 3 } } })).toBeUndefined();
  });
});
