import { describe, expect, it } from 'vitest';
import { EVAL_YIELD_STEPS, evaluatePolicy, evaluatePolicyAsync } from '../../agents/ppo.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';

describe('evaluatePolicyAsync: the event loop gets turns during a long evaluation', () => {
  it('gives the same result as evaluatePolicy, and a callback queued before it runs once EVAL_YIELD_STEPS steps are done, not after the last', async () => {
    const episodes = Math.ceil((3 * EVAL_YIELD_STEPS) / TOY_SPEC.horizon);
    const env = new ToyReachEnv();
    try {
      const sync = evaluatePolicy(env, randomPolicy(TOY_SPEC, new Rng(5)), episodes, 9);
      let steps = 0;
      let heardAt: number | null = null;
      // What Ctrl-C's handler is: a callback that runs only when the event loop gets a turn.
      setImmediate(() => (heardAt = steps));
      const inner = randomPolicy(TOY_SPEC, new Rng(5));
      const counted = (obs: Float32Array) => {
        steps++;
        return inner(obs);
      };
      const later = await evaluatePolicyAsync(env, counted, episodes, 9);
      expect(later).toEqual(sync);
      expect(later.meanLength * episodes).toBe(steps);
      expect(steps).toBeGreaterThanOrEqual(3 * EVAL_YIELD_STEPS);
      expect(heardAt).toBe(EVAL_YIELD_STEPS);
    } finally {
      env.dispose();
    }
  });
});
