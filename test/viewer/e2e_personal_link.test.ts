/**
 * A person's own link (`serve --people`) in the real page: it signs its holder in under their name
 * whatever name the browser kept (no name dialog, no "change name"), leaves the browser's shared
 * name alone, and two people's links in two tabs of one browser each store their own answers.
 */
import { describe, expect, it } from 'vitest';
import { personalToken } from '../../viewer/access.js';
import { useLab, waitFor, waitReady } from './e2e_page.js';

const TOKEN = 'e2e-study-token-42';
const lab = useLab('personal-link');

describe('a personal link in the page', () => {
  it("signs the page in as its person, keeps the browser's name untouched, and two people's tabs store their own answers", async () => {
    const { store, server, close } = await lab.serve(3, { token: TOKEN, people: ['Ada', 'Alan'] });
    // The browser remembers another name ("someone", from an earlier study).
    const { page: adaPage, ctx, errors } = await lab.open(`${server.url}?token=${personalToken(TOKEN, 'Ada')}`, 'someone');
    try {
      const p1 = await waitReady(adaPage);
      expect(await adaPage.textContent('#name-label')).toBe('Ada');
      expect(await adaPage.isVisible('#rename')).toBe(false);
      expect(await adaPage.isVisible('#modal')).toBe(false);
      // The token left the address bar; the browser's shared name is still the one it had.
      expect(new URL(adaPage.url()).search).toBe('');
      expect(await adaPage.evaluate(() => localStorage.getItem('prefrl.name'))).toBe(JSON.stringify('someone'));
      await adaPage.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      // Alan's link in another tab of the same browser.
      const alanPage = await ctx.newPage();
      alanPage.on('pageerror', (e) => errors.push(e.message));
      await alanPage.goto(`${server.url}?token=${personalToken(TOKEN, 'Alan')}`);
      await waitReady(alanPage);
      expect(await alanPage.textContent('#name-label')).toBe('Alan');
      await alanPage.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 2);
      // Ada's tab still answers as Ada.
      await waitReady(adaPage, p1.pairId);
      expect(await adaPage.textContent('#name-label')).toBe('Ada');
      await adaPage.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 3);
      expect(store.labels().map((l) => l.teacher).sort()).toEqual(['human:Ada', 'human:Ada', 'human:Alan']);
      // Every answer acknowledged: the shared outbox empties, and neither tab shows an unsent answer.
      for (const pg of [adaPage, alanPage]) {
        await pg.waitForFunction(() => (window as unknown as { prefrlDebug: { outbox(): number } }).prefrlDebug.outbox() === 0, null, { timeout: 20_000 });
        expect(await pg.isVisible('#p-outbox')).toBe(false);
      }
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await close();
    }
  });

  it("with the study's shared token the page asks for a token instead of letting anyone in", async () => {
    const { server, close } = await lab.serve(1, { token: TOKEN, people: ['Ada'] });
    const { page, ctx, errors } = await lab.open(`${server.url}?token=${TOKEN}`, 'someone');
    try {
      await page.waitForSelector('#modal:not(.hidden)', { timeout: 20_000 });
      expect(await page.textContent('#modal-title')).toBe('Access token');
      // The dialog says why: the shared token lets no one in here; her own link does.
      expect(await page.textContent('#modal-error')).toBe("This server lets people in with their own links only: open the link you were given (the study's shared token is not one).");
      // Her own token typed in the dialog lets her in as herself.
      await page.fill('#modal-input', personalToken(TOKEN, 'Ada'));
      await page.keyboard.press('Enter');
      await waitReady(page);
      expect(await page.textContent('#name-label')).toBe('Ada');
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await close();
    }
  });
});
