/**
 * The HERON page with a reward term of weight 0 (an env whose spec says nothing of which way is
 * better for it; none of the built-in ones has such a term, so reacher's on_target is given weight
 * 0 here): switched on with its direction left on "auto", the page asks for a direction itself,
 * sends no preview and offers nothing to save (the server's refusal spoke of the config file's
 * "directions" key); a direction picked, the preview comes back decided with it.
 */
import { describe, expect, it } from 'vitest';
import { onHeron } from './e2e_heron_helpers.js';
import { heronRanking, useLab } from './e2e_page.js';

/** reacher with on_target's weight set to 0 (the pages are told the changed weights). */
const lab = useLab('heron-w0', {
  env: (reacher) => {
    const rewardTerms = reacher.spec.rewardTerms.map((t) => (t.name === 'on_target' ? { ...t, weight: 0 } : t));
    return { ...reacher, spec: { ...reacher.spec, rewardTerms }, terms: rewardTerms.map((t) => ({ name: t.name, weight: t.weight, doc: t.doc })) };
  },
});

describe('HERON page, a term of weight 0', () => {
  it('switched on with "auto", it asks for a direction, previews nothing and saves nothing; "higher is better" picked, the preview decides with it', async () => {
    await onHeron(
      lab,
      async (page) => {
        // The first guess by |weight| leaves the weight-0 term last and off; its select says "pick one".
        expect(await heronRanking(page)).toEqual(['fingertip_distance', 'control_effort']);
        expect(await page.getByRole('combobox', { name: 'on_target: which way is better' }).locator('option:checked').textContent()).toBe('pick one');
        // Every preview the page asks the server for, from here on (the socket's send, seen through its prototype).
        await page.evaluate(() => {
          const sent: string[] = [];
          (window as unknown as { heronSent: string[] }).heronSent = sent;
          const send = WebSocket.prototype.send;
          WebSocket.prototype.send = function (this: WebSocket, data: Parameters<WebSocket['send']>[0]) {
            if (typeof data === 'string' && data.includes('"heron_preview"')) sent.push(data);
            return send.call(this, data);
          };
        });
        type Sent = { config: { ranking: string[]; directions?: Record<string, string> } };
        const previews = async (): Promise<Sent[]> => (await page.evaluate(() => (window as unknown as { heronSent: string[] }).heronSent)).map((m) => JSON.parse(m) as Sent);
        await page.getByRole('checkbox', { name: 'use on_target' }).check();
        expect(await page.textContent('#heron-error')).toBe('Pick which way is better for on_target (weight 0 says neither): "higher is better" or "lower is better".');
        expect(await page.isVisible('#heron-error')).toBe(true);
        expect([await page.isDisabled('#heron-save'), await page.isDisabled('#heron-download')]).toEqual([true, true]);
        // On top, with margin 0; then a pause longer than the page's 250 ms wait before it asks for a preview.
        for (let k = 0; k < 2; k++) await page.getByRole('button', { name: 'move on_target up (more important)' }).click();
        await page.getByRole('spinbutton', { name: 'on_target margin (x std of the term total over stored clips)' }).fill('0');
        await page.waitForTimeout(600);
        expect(await page.isVisible('#heron-error')).toBe(true);
        // A direction picked: the message goes, Save is offered, and the config carries the direction.
        await page.getByRole('combobox', { name: 'on_target: which way is better' }).selectOption('higher');
        expect(await page.isVisible('#heron-error')).toBe(false);
        expect([await page.isDisabled('#heron-save'), await page.isDisabled('#heron-download')]).toEqual([false, false]);
        const want = { ranking: ['on_target', 'fingertip_distance', 'control_effort'], margins: [0, 0.5, 0.25], directions: { on_target: 'higher' } };
        expect(JSON.parse((await page.textContent('#heron-json')) as string)).toEqual(want);
        // Its preview is asked for and answered; no preview before it went out without the direction.
        await page.waitForFunction(() => (window as unknown as { heronSent: string[] }).heronSent.some((m) => m.includes('"on_target":"higher"')));
        const sent = await previews();
        expect(sent.filter((m) => m.config.ranking.includes('on_target') && m.config.directions?.on_target === undefined)).toEqual([]);
        expect(sent.at(-1)?.config).toEqual(want);
        // The answer decides by the new levels: on_target first, fingertip_distance second (first before on_target was on).
        await page.waitForFunction(() => {
          const cells = [...document.querySelectorAll('#heron-samples tr td:nth-child(3)')].map((td) => td.textContent ?? '');
          const levels = ['on_target (level 1)', 'fingertip_distance (level 2)', 'control_effort (level 3)', 'no term (tie)'];
          return cells.length === 3 && cells.every((c) => levels.includes(c)) && cells.includes('fingertip_distance (level 2)');
        });
        expect(await page.isVisible('#heron-error')).toBe(false);
      },
      { viewport: { width: 1200, height: 800 } },
    );
  });
});
