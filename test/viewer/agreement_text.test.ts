/** The progress line's agreement text: κ only from KAPPA_MIN_COMPARISONS comparisons on, the count always. */
import { describe, expect, it } from 'vitest';
import { agreementText, KAPPA_MIN_COMPARISONS } from '../../viewer/client/agreement.js';

describe('agreementText', () => {
  it('shows κ from 10 comparisons on, the agreeing count and share always', () => {
    expect(KAPPA_MIN_COMPARISONS).toBe(10);
    // One comparison that disagrees: κ would read -1.00; only the count is shown.
    const one = agreementText({ pairs: 1, comparisons: 1, agreeing: 0, fraction: 0, kappa: -1 });
    expect(one.text).toBe('0 of 1 (0%)');
    expect(one.title).toMatch(/shown from 10 comparisons on\. 9 more comparisons to go\.$/);
    expect(agreementText({ pairs: 9, comparisons: 9, agreeing: 6, fraction: 6 / 9, kappa: 0.25 }).text).toBe('6 of 9 (67%)');
    expect(agreementText({ pairs: 9, comparisons: 9, agreeing: 6, fraction: 6 / 9, kappa: 0.25 }).title).toMatch(/ 1 more comparison to go\.$/);
    // 10 comparisons, 7 agree; κ as the store computed it, rounded to two places.
    const ten = agreementText({ pairs: 10, comparisons: 10, agreeing: 7, fraction: 0.7, kappa: 0.4 });
    expect(ten.text).toBe('7 of 10 (70%), κ 0.40');
    expect(ten.title).toMatch(/^Agreement: .*Fleiss' kappa.*shown from 10 comparisons on\.$/);
    expect(agreementText({ pairs: 12, comparisons: 15, agreeing: 14, fraction: 14 / 15, kappa: -0.0349 }).text).toBe('14 of 15 (93%), κ -0.03');
  });

  it('no overlap yet, κ undefined (a single category) and older servers (no agreeing count, no κ)', () => {
    const none = agreementText({ pairs: 0, comparisons: 0, agreeing: 0, fraction: null, kappa: null });
    expect(none.text).toBe('– (no overlap yet)');
    expect(none.title).toMatch(/No pair has been answered by two teachers yet\.$/);
    expect(agreementText({ pairs: 20, comparisons: 20, agreeing: 20, fraction: 1, kappa: null }).text).toBe('20 of 20 (100%)');
    expect(agreementText({ pairs: 3, comparisons: 4, fraction: 0.25 }).text).toBe('25% of 4');
    expect(agreementText({ pairs: 30, comparisons: 40, fraction: 0.5, kappa: 0.1 }).text).toBe('50% of 40, κ 0.10');
  });
});
