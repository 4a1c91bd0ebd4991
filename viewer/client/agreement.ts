/**
 * How the progress line words the teachers' agreement (`--overlap` above 1): the share of
 * comparisons between two teachers' preferences on one pair that agree, and κ (LabelStore's
 * agreement(): Fleiss' kappa over all teachers, not Cohen's) once there are enough of them for it
 * to mean something. The server counts every teacher's preferences in the store, a machine
 * teacher's (`prefrl label`) included, not only people's.
 */
import type { AgreementInfo } from '../protocol.js';

/**
 * κ is shown from this many comparisons on. Below it one answer swings it across its whole range
 * (one comparison that disagrees is κ -1.00), so the plain count says more.
 */
export const KAPPA_MIN_COMPARISONS = 10;

const ABOUT =
  "Agreement: how many of the comparisons between two teachers who answered the same pair gave the same answer (teachers are the people here and any program labelling the same store). κ (Fleiss' kappa) is that agreement beyond chance: 1 full agreement, 0 no better than chance, below 0 worse than chance";

/** The text after "Agreement" and its explanation (the title). */
export function agreementText(a: AgreementInfo): { text: string; title: string } {
  const { fraction, comparisons, agreeing, kappa } = a;
  const rule = `; it is shown from ${KAPPA_MIN_COMPARISONS} comparisons on.`;
  if (fraction === null) return { text: '– (no overlap yet)', title: `${ABOUT}${rule} No pair has been answered by two teachers yet.` };
  const share = `${Math.round(fraction * 100)}%`;
  const count = agreeing === undefined ? `${share} of ${comparisons}` : `${agreeing} of ${comparisons} (${share})`;
  if (kappa === undefined || kappa === null) return { text: count, title: `${ABOUT}${rule}` };
  if (comparisons < KAPPA_MIN_COMPARISONS) {
    const more = KAPPA_MIN_COMPARISONS - comparisons;
    return { text: count, title: `${ABOUT}${rule} ${more} more comparison${more === 1 ? '' : 's'} to go.` };
  }
  return { text: `${count}, κ ${kappa.toFixed(2)}`, title: `${ABOUT}${rule}` };
}
