/**
 * Notes written by hand into a bench result file (`prefrl bench reward` / `bench agents --out`
 * write reward.md / agents.md): the committed files end with a section "## Notes (added by
 * hand; ...)" holding measurements no command makes (other BLAS builds, rejected designs). A rerun
 * of the documented command into the same folder replaced the whole file and lost them. The
 * section is carried into the new file instead, marked as written about an earlier run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The heading that starts a section written by hand, at the start of a line. */
export const HAND_NOTES_HEADING = '## Notes (added by hand';

/** The line put under the heading of carried notes (once, however many reruns carry them). */
export const CARRIED_LINE = '_Carried over from the file an earlier `--out` run wrote here: these notes describe the measurements of that run and those before it, not the table above._';

/** The hand-written section of `text` (from its heading to the end), or null without one. */
export function handNotes(text: string): string | null {
  const at = text.startsWith(HAND_NOTES_HEADING) ? 0 : text.indexOf(`\n${HAND_NOTES_HEADING}`);
  if (at < 0) return null;
  return text.slice(at === 0 ? 0 : at + 1).trimEnd();
}

/**
 * `md` (a command's new result file) with the hand-written notes of the file it replaces at
 * `<out>/<name>.md`, if that file has any, appended and marked as carried over.
 */
export function withHandNotes(out: string, name: string, md: string): string {
  const file = join(out, `${name}.md`);
  if (!existsSync(file)) return md;
  const notes = handNotes(readFileSync(file, 'utf8'));
  if (notes === null) return md;
  const [heading, ...rest] = notes.split('\n');
  const body = rest.join('\n').replace(/^\n*/, '');
  const marked = body.startsWith(CARRIED_LINE) ? body : `${CARRIED_LINE}\n\n${body}`;
  return `${md.trimEnd()}\n\n${heading}\n\n${marked}\n`;
}
