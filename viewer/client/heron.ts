/**
 * The HERON page: rank the env's reward terms by dragging a term's handle (a finger, a mouse or
 * a pen: pointer events, since HTML5 drag and drop does not start from a finger in Chromium) or
 * with the move buttons (keyboard, screen readers, a tap), switch
 * terms on or off, set each level's margin and, where the ground-truth weight does not say
 * which way is better (weight 0) or to override it, a direction. Every change asks the
 * server how the hierarchical rule decides sample pairs from the store (`heron_preview`);
 * "Save for training" writes the config where `prefrl train --teacher heron:<file>` reads it.
 */
import type { HeronConfigJson, HeronResultMsg, HeronSavedMsg, TermInfo } from '../protocol.js';
import { downloadText } from './download.js';

interface TermRow {
  readonly term: TermInfo;
  on: boolean;
  margin: number;
  /** 'auto' follows the sign of the weight. */
  direction: 'auto' | 'higher' | 'lower';
}

export interface HeronCallbacks {
  preview(config: HeronConfigJson): void;
  save(config: HeronConfigJson): void;
  view(pairId: string): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? x.toExponential(2) : x.toFixed(3);
}

function verdictText(p: number): string {
  return p > 0.5 ? 'A better' : p < 0.5 ? 'B better' : 'equal';
}

export class HeronPanel {
  private rows: TermRow[] = [];
  private timer: number | null = null;
  /**
   * The drag in progress: the pointer, the row and its index, where the pointer went down (page y),
   * where it is now (window y), where the row would land, and the timer that scrolls the page while
   * the pointer is held near the window's top or bottom edge.
   */
  private drag: { pointer: number; li: HTMLLIElement; from: number; startY: number; y: number; to: number; scroller: number | null } | null = null;

  constructor(
    private readonly root: { list: HTMLOListElement; json: HTMLElement; samples: HTMLElement; agreement: HTMLElement; error: HTMLElement; saved: HTMLElement; save: HTMLButtonElement; download: HTMLButtonElement },
    private readonly cb: HeronCallbacks,
  ) {
    root.save.addEventListener('click', () => {
      const c = this.config();
      if (c) this.cb.save(c);
    });
    root.download.addEventListener('click', () => this.download());
  }

  /**
   * Start from the env's terms, ordered by |weight| (a first guess people then adjust). The same
   * terms again (every reconnect's welcome) keep the person's ranking, margins and directions.
   */
  setTerms(terms: readonly TermInfo[]): void {
    const same = this.rows.length === terms.length && terms.every((t) => this.rows.some((r) => r.term.name === t.name && r.term.weight === t.weight));
    if (same) {
      this.changed();
      return;
    }
    const sorted = [...terms].sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
    this.rows = sorted.map((term, i) => ({ term, on: term.weight !== 0, margin: i === 0 ? 0.5 : 0.25, direction: 'auto' }));
    this.render();
    this.changed();
  }

  /** The config as parseHeronConfig reads it, or null when no term is switched on. */
  config(): HeronConfigJson | null {
    const on = this.rows.filter((r) => r.on);
    if (on.length === 0) return null;
    const directions: Record<string, 'higher' | 'lower'> = {};
    for (const r of on) if (r.direction !== 'auto') directions[r.term.name] = r.direction;
    return { ranking: on.map((r) => r.term.name), margins: on.map((r) => r.margin), ...(Object.keys(directions).length ? { directions } : {}) };
  }

  private changed(): void {
    const c = this.config();
    this.root.json.textContent = c ? JSON.stringify(c, null, 2) : '(switch on at least one term)';
    // A term of weight 0 switched on says nothing of which way is better until its select does: the
    // page asks for that itself (the server's refusal speaks of the config file's "directions" key).
    const unknown = this.rows.filter((r) => r.on && r.term.weight === 0 && r.direction === 'auto').map((r) => r.term.name);
    if (unknown.length > 0) this.showError(`Pick which way is better for ${unknown.join(', ')} (weight 0 says neither): "higher is better" or "lower is better".`);
    else this.root.error.classList.add('hidden');
    // Nothing to save or download without a term switched on (the buttons did nothing, unexplained),
    // or while a direction is missing (the server refuses such a config).
    this.root.save.disabled = c === null || unknown.length > 0;
    this.root.download.disabled = c === null || unknown.length > 0;
    this.root.saved.classList.add('hidden');
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      const cfg = this.config();
      if (cfg && unknown.length === 0) this.cb.preview(cfg);
    }, 250);
  }

  /** The list's control that has the focus, as its term and data-ctl, or undefined. */
  private focusedControl(): { term: string; ctl: string } | undefined {
    const a = document.activeElement as HTMLElement | null;
    const term = a && this.root.list.contains(a) ? a.closest('li')?.dataset.term : undefined;
    return term !== undefined && a?.dataset.ctl ? { term, ctl: a.dataset.ctl } : undefined;
  }

  private move(from: number, to: number, focus?: 'up' | 'down'): void {
    if (from === to || from < 0 || to < 0 || from >= this.rows.length || to >= this.rows.length) return;
    const [r] = this.rows.splice(from, 1);
    this.rows.splice(to, 0, r);
    this.render(focus && { term: r.term.name, ctl: focus });
    this.changed();
  }

  /**
   * Draw the rows anew. `focus` names the control that had the keyboard's focus (the rows are
   * rebuilt, so it would be lost; by default the focused control of the list, if any, e.g. a margin
   * box when a drag moves its row): the same control of the same term gets it back, or, for a
   * move button now disabled at the top or bottom, the other one.
   */
  private render(focus: { term: string; ctl: string } | undefined = this.focusedControl()): void {
    // A drag in progress ends here, moving nothing (a key pressed mid-drag redraws the rows): its row
    // leaves the page and its pointer capture with it (lostpointercapture then goes to the document,
    // not the row). Before, the release reached the new row under the pointer, was taken for the old
    // drag's end and moved a row of the new order; released off every row, nothing ended the drag
    // and every later drag was refused.
    this.stopDrag();
    const list = this.root.list;
    list.replaceChildren();
    let rank = 0;
    this.rows.forEach((r, i) => {
      const li = el('li', `heron-term${r.on ? '' : ' off'}`);
      li.dataset.index = String(i);
      li.dataset.term = r.term.name;
      li.addEventListener('pointerdown', (ev) => this.dragStart(ev, li, i));
      li.addEventListener('pointermove', (ev) => this.dragMove(ev));
      li.addEventListener('pointerup', (ev) => this.dragEnd(ev, true));
      li.addEventListener('pointercancel', (ev) => this.dragEnd(ev, false));
      li.addEventListener('lostpointercapture', (ev) => this.dragEnd(ev, false));
      const handle = el('span', 'handle', '⠿');
      // The move buttons say the same to screen readers; the handle is for pointers only.
      handle.setAttribute('aria-hidden', 'true');
      handle.title = 'drag to move (or use the arrow buttons)';
      const rankEl = el('span', 'rank', r.on ? String(++rank) : '–');
      const name = el('span', 'tname', r.term.name);
      name.title = r.term.doc;
      const doc = el('span', 'tdoc', `weight ${r.term.weight} · ${r.term.doc}`);
      name.appendChild(doc);
      const ctrls = el('span', 'ctrls');
      const on = el('input');
      on.type = 'checkbox';
      on.checked = r.on;
      on.title = 'use this term';
      on.dataset.ctl = 'on';
      on.setAttribute('aria-label', `use ${r.term.name}`);
      on.addEventListener('change', () => {
        r.on = on.checked;
        this.render({ term: r.term.name, ctl: 'on' });
        this.changed();
      });
      const margin = el('input');
      margin.type = 'number';
      margin.min = '0';
      margin.step = '0.05';
      margin.value = String(r.margin);
      margin.title = 'margin (x std of the term total over stored clips)';
      margin.setAttribute('aria-label', `${r.term.name} margin (x std of the term total over stored clips)`);
      margin.dataset.ctl = 'margin';
      // A box that holds no number >= 0 (cleared to type another, "-", "1e400") keeps the margin in
      // use and is marked invalid (Number('') is 0: an emptied box used to set the margin to 0 while
      // showing nothing); left that way, it shows the margin in use again.
      margin.addEventListener('input', () => {
        const v = margin.value.trim() === '' ? Number.NaN : Number(margin.value);
        const ok = Number.isFinite(v) && v >= 0;
        margin.classList.toggle('invalid', !ok);
        if (ok) margin.removeAttribute('aria-invalid');
        else margin.setAttribute('aria-invalid', 'true');
        if (ok && v !== r.margin) {
          r.margin = v;
          this.changed();
        }
      });
      margin.addEventListener('change', () => {
        if (margin.getAttribute('aria-invalid') !== 'true') return;
        margin.value = String(r.margin);
        margin.classList.remove('invalid');
        margin.removeAttribute('aria-invalid');
      });
      const dir = el('select');
      for (const [v, t] of [
        ['auto', r.term.weight > 0 ? 'higher (weight)' : r.term.weight < 0 ? 'lower (weight)' : 'pick one'],
        ['higher', 'higher is better'],
        ['lower', 'lower is better'],
      ] as const) {
        const o = el('option', undefined, t);
        o.value = v;
        dir.appendChild(o);
      }
      dir.value = r.direction;
      dir.dataset.ctl = 'dir';
      dir.title = 'which way is better';
      dir.setAttribute('aria-label', `${r.term.name}: which way is better`);
      dir.addEventListener('change', () => {
        r.direction = dir.value as TermRow['direction'];
        this.changed();
      });
      const up = el('button', 'mv', '↑');
      up.title = 'more important';
      up.dataset.ctl = 'up';
      up.setAttribute('aria-label', `move ${r.term.name} up (more important)`);
      up.disabled = i === 0;
      up.addEventListener('click', () => this.move(i, i - 1, 'up'));
      const down = el('button', 'mv', '↓');
      down.title = 'less important';
      down.dataset.ctl = 'down';
      down.setAttribute('aria-label', `move ${r.term.name} down (less important)`);
      down.disabled = i === this.rows.length - 1;
      down.addEventListener('click', () => this.move(i, i + 1, 'down'));
      // The box in a label: on a touch screen the label is the finger-sized target (style.css).
      const onBox = el('label', 'on-box');
      onBox.appendChild(on);
      // The move buttons: beside the other controls, or on a phone beside the term's name (style.css).
      const moves = el('span', 'mvs');
      moves.append(up, down);
      ctrls.append(onBox, margin, dir);
      li.append(handle, rankEl, name, ctrls, moves);
      list.appendChild(li);
    });
    if (focus) {
      const row = [...list.children].find((li) => (li as HTMLElement).dataset.term === focus.term);
      const ctl = (c: string) => row?.querySelector<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(`[data-ctl="${c}"]`) ?? null;
      const target = ctl(focus.ctl);
      const other = focus.ctl === 'up' ? ctl('down') : focus.ctl === 'down' ? ctl('up') : null;
      (target && !target.disabled ? target : other)?.focus();
    }
  }

  /**
   * A press that can start a drag: the handle with any pointer; for a mouse or pen also the rest of
   * the row but its controls. A finger elsewhere on the row scrolls the page as usual (the handle
   * alone has touch-action: none), so a long list can still be scrolled on a phone.
   */
  private dragStart(ev: PointerEvent, li: HTMLLIElement, from: number): void {
    if (this.drag || !ev.isPrimary || ev.button !== 0) return;
    const target = ev.target as Element;
    if (target.closest('.ctrls, .mvs')) return;
    if (ev.pointerType === 'touch' && !target.closest('.handle')) return;
    ev.preventDefault();
    li.setPointerCapture(ev.pointerId);
    li.classList.add('dragging');
    this.drag = { pointer: ev.pointerId, li, from, startY: ev.clientY + window.scrollY, y: ev.clientY, to: from, scroller: null };
  }

  /** Whether the list is on screen (not on a hidden tab). */
  private shown(): boolean {
    return this.root.list.getClientRects().length > 0;
  }

  /** How far to scroll the page for a pointer at window y `y`: up to 24 px within 48 px of the top or bottom edge, else 0. */
  private edgeStep(y: number): number {
    const edge = 48;
    if (y < edge) return -Math.min(24, edge - y);
    if (y > window.innerHeight - edge) return Math.min(24, y - (window.innerHeight - edge));
    return 0;
  }

  /**
   * The row follows the pointer. Near the window's top or bottom edge the page scrolls along, on
   * every move and, while the pointer is held still there (a finger mostly is), every 16 ms, so a
   * term can be dragged past the rows out of sight. A drag whose tab was hidden meanwhile (a key
   * switched tabs) ends, moving nothing.
   */
  private dragMove(ev: PointerEvent): void {
    const d = this.drag;
    if (!d || ev.pointerId !== d.pointer) return;
    ev.preventDefault();
    if (!this.shown()) {
      this.stopDrag();
      return;
    }
    d.y = ev.clientY;
    const step = this.edgeStep(d.y);
    if (step !== 0) window.scrollBy(0, step);
    this.follow(d);
    if (step !== 0 && d.scroller === null) {
      d.scroller = window.setInterval(() => {
        const s = this.edgeStep(d.y);
        const before = window.scrollY;
        if (this.drag === d && s !== 0 && this.shown()) window.scrollBy(0, s);
        // Held away from the edges, or the page at its end: the timer stops (a move near an edge starts it again).
        if (this.drag !== d || window.scrollY === before) {
          if (d.scroller !== null) window.clearInterval(d.scroller);
          d.scroller = null;
          return;
        }
        this.follow(d);
      }, 16);
    }
  }

  /** Place the dragged row at the pointer; it would land after every other row whose middle is above the pointer. */
  private follow(d: NonNullable<HeronPanel['drag']>): void {
    d.li.style.transform = `translateY(${d.y + window.scrollY - d.startY}px)`;
    const others = [...this.root.list.children].filter((c) => c !== d.li) as HTMLElement[];
    let to = 0;
    for (const o of others) {
      const b = o.getBoundingClientRect();
      if (b.top + b.height / 2 < d.y) to++;
    }
    d.to = to;
    others.forEach((o, k) => {
      // The row the dragged one would land next to is marked: above it when moving up, below when moving down.
      o.classList.toggle('drop-before', to < d.from && k === to);
      o.classList.toggle('drop-after', to > d.from && k === to - 1);
    });
  }

  private dragEnd(ev: PointerEvent, drop: boolean): void {
    const d = this.drag;
    if (!d || ev.pointerId !== d.pointer) return;
    this.stopDrag();
    if (drop && d.to !== d.from && this.shown()) this.move(d.from, d.to);
  }

  /** End the drag in progress, if any, moving nothing: the row back in place, its capture and the drop marks gone. */
  private stopDrag(): void {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    if (d.scroller !== null) window.clearInterval(d.scroller);
    d.scroller = null;
    if (d.li.hasPointerCapture(d.pointer)) d.li.releasePointerCapture(d.pointer);
    d.li.classList.remove('dragging');
    d.li.style.transform = '';
    for (const o of this.root.list.children) o.classList.remove('drop-before', 'drop-after');
  }

  showResult(m: HeronResultMsg, terms: readonly TermInfo[]): void {
    this.root.error.classList.add('hidden');
    const a = m.agreement;
    this.root.agreement.replaceChildren();
    if (a.pairs > 0) {
      const pct = Math.round((100 * a.agreeing) / a.pairs);
      // Over the first pairs with preferences only, when the store holds more than the page reads.
      const first = a.firstOf ? `, among the first ${a.firstOf.read} of the ${a.firstOf.total} pairs with preferences` : '';
      this.root.agreement.append('Agrees with people on ', el('b', undefined, `${a.agreeing} of ${a.pairs}`), ` labelled pairs (${pct}%${first}). `);
    } else this.root.agreement.append('No pairs with people\'s preferences yet; compare the rule\'s verdicts below with the clips. ');
    this.root.agreement.append(`Spread (std) from ${m.poolSegments} stored clips.`);
    const body = this.root.samples;
    body.replaceChildren();
    if (m.decisions.length === 0) {
      const tr = el('tr');
      const td = el('td', undefined, 'The store holds no pairs yet.');
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    // Each cell names its column (data-label): a phone shows the rows as cards, without the header.
    const cell = (cls: string, label: string, text?: string): HTMLTableCellElement => {
      const td = el('td', cls, text);
      td.dataset.label = label;
      return td;
    };
    for (const d of m.decisions) {
      const tr = el('tr');
      tr.appendChild(cell('mono h-pair', 'Pair', d.pairId.slice(0, 14)));
      tr.appendChild(cell('h-verdict', 'Rule says', verdictText(d.probFirst)));
      const idx = d.term === null ? -1 : terms.findIndex((t) => t.name === d.term);
      tr.appendChild(cell('h-term', 'Decided by', d.term === null ? 'no term (tie)' : `${d.term} (level ${d.level + 1})`));
      tr.appendChild(cell('mono h-diff', 'Difference / threshold', idx < 0 ? '–' : `${fmt(d.diff)} / ${fmt(d.threshold)}  (A ${fmt(d.sumsA[idx])}, B ${fmt(d.sumsB[idx])})`));
      const people = d.human.map(verdictText);
      const agree = people.length > 0 && people.every((p) => p === verdictText(d.probFirst));
      tr.appendChild(cell(`h-people${people.length ? (agree ? ' match' : ' mismatch') : ''}`, 'People said', people.length ? people.join(', ') : '–'));
      const td = el('td', 'h-view');
      const view = el('button', 'view', 'View');
      view.title = 'watch this pair (A on the left)';
      view.setAttribute('aria-label', `view pair ${d.pairId} (A on the left)`);
      view.addEventListener('click', () => this.cb.view(d.pairId));
      td.appendChild(view);
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  showError(message: string): void {
    this.root.error.textContent = message;
    this.root.error.classList.remove('hidden');
  }

  showSaved(m: HeronSavedMsg): void {
    this.root.saved.textContent = `Saved to ${m.path}. Train with: prefrl train --teacher heron:${m.path}`;
    this.root.saved.classList.remove('hidden');
  }

  private download(): void {
    const c = this.config();
    if (!c) return;
    downloadText('heron.json', `${JSON.stringify(c, null, 2)}\n`, 'application/json');
  }
}
