/**
 * The insight panel's reward curves (viewer/client/insight.ts drawCurves) on a recording 2D
 * context: every label lies inside the canvas and outside the plot, the curves inside the plot.
 */
import { describe, expect, it } from 'vitest';
import { drawCurves } from '../../viewer/client/insight.js';

interface Text {
  text: string;
  x: number;
  y: number;
  align: string;
  baseline: string;
}

/** A canvas whose context records text and path points; text is 6 px a character, 11 px high. */
function fakeCanvas(width: number, height: number) {
  const texts: Text[] = [];
  const points: { colour: string; x: number; y: number }[] = [];
  const ctx = {
    font: '',
    textAlign: 'start',
    textBaseline: 'alphabetic',
    fillStyle: '',
    strokeStyle: '',
    lineWidth: 1,
    transform: [1, 0, 0, 1, 0, 0] as number[],
    setTransform(...m: number[]) {
      ctx.transform = m;
    },
    clearRect: () => undefined,
    beginPath: () => undefined,
    stroke: () => undefined,
    moveTo(x: number, y: number) {
      points.push({ colour: ctx.strokeStyle, x, y });
    },
    lineTo(x: number, y: number) {
      points.push({ colour: ctx.strokeStyle, x, y });
    },
    measureText: (t: string) => ({ width: 6 * t.length }),
    fillText(text: string, x: number, y: number) {
      texts.push({ text, x, y, align: ctx.textAlign, baseline: ctx.textBaseline });
    },
  };
  const canvas = { width, height, dataset: {} as Record<string, string>, style: { width: '' }, getContext: () => ctx } as unknown as HTMLCanvasElement;
  return { canvas, texts, points, ctx };
}

/** A text's box from its anchor, alignment and baseline (11 px font). */
function box(t: Text): { x0: number; x1: number; y0: number; y1: number } {
  const w = 6 * t.text.length;
  const x0 = t.align === 'right' ? t.x - w : t.x;
  const y0 = t.baseline === 'top' ? t.y : t.baseline === 'bottom' ? t.y - 11 : t.y - 5.5;
  return { x0, x1: x0 + w, y0, y1: y0 + 11 };
}

const BLUE = '#5aa9e6';
const PINK = '#e36f8f';

describe('drawCurves', () => {
  it('puts the labels in margins inside the canvas and the curves inside the plot', () => {
    const { canvas, texts, points } = fakeCanvas(420, 120);
    const left = Array.from({ length: 20 }, (_, i) => 0.6 * Math.sin(i / 3));
    const right = Array.from({ length: 20 }, (_, i) => -0.25 + 0.02 * i);
    const layout = drawCurves(canvas, left, right);
    // lo = -0.5993 (0.6 sin(14 / 3)), hi = 0.5972 (0.6 sin(5 / 3)): labels "0.60", "-0.60", "0".
    expect(texts.map((t) => t.text)).toEqual(['0.60', '-0.60', '0', 'step 0', 'step 19']);
    // Widest y label "-0.60": 30 px; plot from 4 + 30 + 4 = 38 to 416, 4 to 120 - 4 - 11 - 4 = 101.
    expect(layout).toMatchObject({ left: 38, right: 416, top: 4, bottom: 101 });
    for (const t of texts) {
      const b = box(t);
      expect(b.x0, t.text).toBeGreaterThanOrEqual(0);
      expect(b.x1, t.text).toBeLessThanOrEqual(420);
      expect(b.y0, t.text).toBeGreaterThanOrEqual(0);
      expect(b.y1, t.text).toBeLessThanOrEqual(120);
    }
    // The y labels left of the plot, the step labels under it.
    for (const t of texts.slice(0, 3)) expect(box(t).x1).toBeLessThanOrEqual(38);
    for (const t of texts.slice(3)) expect(box(t).y0).toBeGreaterThanOrEqual(101);
    const l = layout as NonNullable<typeof layout>;
    const curves = points.filter((p) => p.colour === BLUE || p.colour === PINK);
    expect(curves.filter((p) => p.colour === BLUE)).toHaveLength(20);
    expect(curves.filter((p) => p.colour === PINK)).toHaveLength(20);
    for (const p of curves) {
      expect(p.x).toBeGreaterThanOrEqual(l.left);
      expect(p.x).toBeLessThanOrEqual(l.right);
      expect(p.y).toBeGreaterThanOrEqual(l.top - 1e-9);
      expect(p.y).toBeLessThanOrEqual(l.bottom + 1e-9);
    }
    // Left's first value 0 at the plot's left end, on the zero line: 4 + 97 (1 - (0 - lo) / (hi - lo)).
    const zeroY = 4 + 97 * (1 - (0 - l.lo) / (l.hi - l.lo));
    expect(curves[0].x).toBe(38);
    expect(curves[0].y).toBeCloseTo(zeroY, 9);
    // Right's last value (0.13) at the right end.
    const lastPink = curves.filter((p) => p.colour === PINK).at(-1) as { x: number; y: number };
    expect(lastPink.x).toBe(416);
    expect(lastPink.y).toBeCloseTo(4 + 97 * (1 - (0.13 - l.lo) / (l.hi - l.lo)), 9);
  });

  it('leaves out the 0 label when 0 is an end of the range, and draws nothing without data', () => {
    const { canvas, texts } = fakeCanvas(420, 120);
    const layout = drawCurves(canvas, [0, 1, 2], [0.5, 0.5, 0.5]);
    expect(texts.map((t) => t.text)).toEqual(['2.00', '0.00', 'step 0', 'step 2']);
    expect(layout).toMatchObject({ lo: 0, hi: 2, left: 4 + 24 + 4 });
    const empty = fakeCanvas(420, 120);
    expect(drawCurves(empty.canvas, [], [])).toBeNull();
    expect(empty.texts).toEqual([]);
    // A flat zero series: the range is widened to [-1, 1].
    const flat = fakeCanvas(420, 120);
    expect(drawCurves(flat.canvas, [0, 0], [0, 0])).toMatchObject({ lo: -1, hi: 1 });
    expect(flat.texts.map((t) => t.text)).toEqual(['1.00', '-1.00', '0', 'step 0', 'step 1']);
  });
});

describe('drawCurves on a high-DPI screen', () => {
  it('draws into a backing store of the pixel ratio times the page size, in page pixels, and keeps the page size', () => {
    const { canvas, ctx } = fakeCanvas(420, 120);
    const at1 = drawCurves(canvas, [0, 1, 2], [0.5, 0.5, 0.5]);
    expect([canvas.width, canvas.height]).toEqual([420, 120]);
    const at2 = drawCurves(canvas, [0, 1, 2], [0.5, 0.5, 0.5], 2);
    // 840 x 240 device pixels, scaled by 2 so the same layout (page pixels) fills it.
    expect([canvas.width, canvas.height]).toEqual([840, 240]);
    expect(ctx.transform).toEqual([2, 0, 0, 2, 0, 0]);
    expect(at2).toEqual(at1);
    expect(canvas.style.width).toBe('420px');
    expect(canvas.dataset).toEqual({ cssWidth: '420', cssHeight: '120' });
    // Drawn again (the next answer) it does not grow; back on a 1x screen it returns to 420 x 120.
    drawCurves(canvas, [1, 2], [3, 4], 2);
    expect([canvas.width, canvas.height]).toEqual([840, 240]);
    drawCurves(canvas, [1, 2], [3, 4], 1.5);
    expect([canvas.width, canvas.height, ...ctx.transform.slice(0, 4)]).toEqual([630, 180, 1.5, 0, 0, 1.5]);
    drawCurves(canvas, [1, 2], [3, 4], 1);
    expect([canvas.width, canvas.height]).toEqual([420, 120]);
  });
  it('treats a missing or odd pixel ratio as 1 and caps it at 4', () => {
    const { canvas } = fakeCanvas(420, 120);
    drawCurves(canvas, [1], [2], Number.NaN);
    expect(canvas.width).toBe(420);
    drawCurves(canvas, [1], [2], 0);
    expect(canvas.width).toBe(420);
    drawCurves(canvas, [1], [2], 9);
    expect([canvas.width, canvas.height]).toEqual([1680, 480]);
  });
});
