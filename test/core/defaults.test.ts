import { describe, expect, it } from 'vitest';
import { withDefaults } from '../../core/defaults.js';

describe('withDefaults', () => {
  const defaults = { a: 1, b: 'x', c: null as number | null, d: [2, 3] };

  it('takes each field given and keeps the default of each one left out, undefined or null', () => {
    const got = withDefaults({ a: 5, b: undefined, c: 7, d: null }, defaults);
    expect(got).toEqual({ a: 5, b: 'x', c: 7, d: [2, 3] });
  });

  it('keeps the defaults order and copies none of the other fields given', () => {
    const given = { d: [9], extra: 'not copied', a: 0 };
    const got = withDefaults(given, defaults);
    expect(Object.keys(got)).toEqual(['a', 'b', 'c', 'd']);
    expect(got).toEqual({ a: 0, b: 'x', c: null, d: [9] });
  });

  it('returns a new object and leaves the defaults as they were', () => {
    const got = withDefaults({}, defaults);
    expect(got).not.toBe(defaults);
    got.a = 42;
    expect(defaults).toEqual({ a: 1, b: 'x', c: null, d: [2, 3] });
  });
});
