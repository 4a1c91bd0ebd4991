/**
 * Notes written by hand at the end of a result file that a command rewrites: a suite's
 * summary.md (`prefrl bench oracle`) and reward.md / agents.md (`prefrl bench reward` / `bench
 * agents --out`). The committed files end with a section "## Notes (added by hand; ...)" holding
 * what no command measures (other BLAS builds, rejected designs, probes); a rewrite keeps that
 * section, under a heading that says how it got there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Heading of the hand-written notes at the end of a summary.md; a rebuild keeps that section. */
export const NOTES_HEADING = '## Notes (added by hand; kept when the summary is rebuilt)';

/**
 * Heading of the notes `bench reward` / `bench agents --out` carry from the .md they replace: the
 * notes were written about the runs before, not the table above them.
 */
export const CARRIED_NOTES_HEADING = '## Notes (added by hand about earlier runs of this command, not the table above; carried over when it rewrites this file)';

/**
 * The hand-written notes section of `text` (from its "## Notes (added by hand" heading to the
 * end), put under `heading`, or null when it has none or it is empty.
 */
export function handNotes(text: string, heading: string = NOTES_HEADING): string | null {
  const m = /^## Notes \(added by hand[^\n]*\n/m.exec(text);
  if (!m) return null;
  const body = text.slice(m.index + m[0].length).trim();
  return body ? `${heading}\n\n${body}\n` : null;
}

/**
 * `md` (a bench command's new result file) followed by the hand-written notes of the file it
 * replaces at `<out>/<name>.md`, if that has any, under CARRIED_NOTES_HEADING.
 */
export function withHandNotes(out: string, name: string, md: string): string {
  const file = join(out, `${name}.md`);
  const notes = existsSync(file) ? handNotes(readFileSync(file, 'utf8'), CARRIED_NOTES_HEADING) : null;
  return notes ? `${md.trimEnd()}\n\n${notes}` : md;
}
