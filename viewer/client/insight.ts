/**
 * The reward model's view of the last answered pair (`prefrl serve --insight`): its
 * P(left better) next to the teacher's choice, and per-step predicted reward curves of both
 * clips on one axis.
 */
import type { InsightMsg } from '../protocol.js';

const LEFT = '#5aa9e6';
const RIGHT = '#e36f8f';

/** Where drawCurves put the plot, in canvas pixels (the axis labels are outside it). */
export interface CurvesLayout {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  /** The y range drawn (it always holds 0). */
  readonly lo: number;
  readonly hi: number;
}

const FONT_PX = 11;
/** Gap between the canvas edge, the labels and the plot, px. */
const GAP = 4;

/**
 * Size the canvas's backing store for the screen's pixel ratio (a high-DPI screen draws the chart
 * sharp, not scaled up) while it keeps its size on the page. The page's size is the canvas's own
 * width/height as first drawn (its HTML attributes), remembered in data-css-width/-height; the
 * drawing then works in those page pixels. Returns them.
 */
export function sharpCanvas(canvas: HTMLCanvasElement, pixelRatio: number): { w: number; h: number } {
  const ds = canvas.dataset as DOMStringMap | undefined;
  const w = Number(ds?.cssWidth ?? canvas.width);
  const h = Number(ds?.cssHeight ?? canvas.height);
  const ratio = Number.isFinite(pixelRatio) && pixelRatio > 0 ? Math.min(pixelRatio, 4) : 1;
  if (ds) {
    ds.cssWidth = String(w);
    ds.cssHeight = String(h);
  }
  const bw = Math.round(w * ratio);
  const bh = Math.round(h * ratio);
  if (canvas.width !== bw) canvas.width = bw;
  if (canvas.height !== bh) canvas.height = bh;
  // The page size stays the drawing size whatever the backing store (max-width still shrinks it).
  if (canvas.style && canvas.style.width !== `${w}px`) canvas.style.width = `${w}px`;
  return { w, h };
}

/**
 * Draw both reward curves (left blue, right pink: the page's legend names them) on a shared y range
 * with a zero line. The labels sit in margins of their own inside the canvas: the range's ends and
 * 0 on the left of the plot, the first and last step below it, so none is cut at the canvas edge
 * or drawn over a curve. Returns the layout, or null when there is nothing to draw.
 */
export function drawCurves(canvas: HTMLCanvasElement, left: readonly number[], right: readonly number[], pixelRatio = 1): CurvesLayout | null {
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  const { w, h } = sharpCanvas(canvas, pixelRatio);
  ctx.setTransform(canvas.width / w, 0, 0, canvas.height / h, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const all = [...left, ...right];
  if (all.length === 0) return null;
  let lo = Math.min(0, ...all);
  let hi = Math.max(0, ...all);
  if (hi - lo < 1e-9) {
    hi += 1;
    lo -= 1;
  }
  ctx.font = `${FONT_PX}px system-ui, sans-serif`;
  const hiText = hi.toFixed(2);
  const loText = lo.toFixed(2);
  const labelW = Math.ceil(Math.max(ctx.measureText(hiText).width, ctx.measureText(loText).width, ctx.measureText('0').width));
  const layout: CurvesLayout = { left: GAP + labelW + GAP, right: w - GAP, top: GAP, bottom: h - GAP - FONT_PX - GAP, lo, hi };
  const { left: x0, right: x1, top: y0, bottom: y1 } = layout;
  const y = (v: number) => y0 + (y1 - y0) * (1 - (v - lo) / (hi - lo));
  ctx.strokeStyle = '#3a4452';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x0, y(0));
  ctx.lineTo(x1, y(0));
  ctx.moveTo(x0, y0);
  ctx.lineTo(x0, y1);
  ctx.stroke();
  const steps = Math.max(left.length, right.length);
  const line = (vals: readonly number[], colour: string) => {
    if (vals.length === 0) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    vals.forEach((v, i) => {
      const x = steps === 1 ? (x0 + x1) / 2 : x0 + (i / (steps - 1)) * (x1 - x0);
      if (i === 0) ctx.moveTo(x, y(v));
      else ctx.lineTo(x, y(v));
    });
    ctx.stroke();
  };
  line(left, LEFT);
  line(right, RIGHT);
  ctx.fillStyle = '#94a0b2';
  // The y range, right-aligned against the plot: the top value hangs from the plot's top, the
  // bottom one stands on its bottom, 0 at its line when it is clear of both.
  ctx.textAlign = 'right';
  ctx.textBaseline = 'top';
  ctx.fillText(hiText, x0 - GAP, y0);
  ctx.textBaseline = 'bottom';
  ctx.fillText(loText, x0 - GAP, y1);
  const yZero = y(0);
  if (yZero - y0 > FONT_PX * 1.5 && y1 - yZero > FONT_PX * 1.5) {
    ctx.textBaseline = 'middle';
    ctx.fillText('0', x0 - GAP, yZero);
  }
  // The steps, under the plot.
  ctx.textBaseline = 'bottom';
  ctx.textAlign = 'left';
  ctx.fillText('step 0', x0, h - GAP);
  ctx.textAlign = 'right';
  ctx.fillText(`step ${Math.max(0, steps - 1)}`, x1, h - GAP);
  return layout;
}

const CHOICE_TEXT: Record<InsightMsg['choice'], string> = {
  left: 'left is better',
  right: 'right is better',
  equal: 'about equal',
  cant_tell: "can't tell",
};

/** One line summarising model vs teacher. */
export function insightText(m: InsightMsg): string {
  const p = Math.round(m.probLeft * 100);
  const verdict = m.agree === null ? '' : m.agree ? ' — the model agrees' : ' — the model disagrees (logged)';
  return `Model: P(left better) = ${p}%, P(right better) = ${100 - p}%. You said ${CHOICE_TEXT[m.choice]}${verdict}.`;
}
