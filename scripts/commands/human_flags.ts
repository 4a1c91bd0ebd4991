/**
 * The human teacher's flags, shared by `prefrl train` and `prefrl offline` (same names, defaults
 * and help text in both). They are runtime settings of the labelling server: the token is never
 * written to a run folder, and a resumed run takes all of them from its command line.
 */
import { createServer } from 'node:net';
import { flagName, flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { shellQuote } from '../../core/paths.js';
import { type HumanTeacherOptions, humanServedPort } from '../../reward/teachers/human.js';
import { checkViewerAccess, isLoopbackHost, readPeople } from '../../viewer/access.js';

export const humanTeacherFlags = {
  humanPort: flags.int({ doc: 'human teacher: viewer port (0: any free port)', default: 8080, min: 0, max: 65535 }),
  humanHost: flags.string({ doc: 'human teacher: viewer address; beyond 127.0.0.1 needs --human-token', default: '127.0.0.1' }),
  humanToken: flags.string({ doc: 'human teacher: access token people present (link ?token=...)', optional: true }),
  humanTimeout: flags.int({ doc: 'human teacher: seconds without a new answer before --human-on-timeout applies (0: wait forever)', default: 900, min: 0 }),
  humanOnTimeout: flags.choice(['skip', 'fail'] as const, { doc: 'human teacher: skip the unanswered pairs, or stop with an error', default: 'skip' }),
  humanOverlap: flags.int({ doc: 'human teacher: distinct people asked per pair', default: 1, min: 1 }),
  humanPeople: flags.string({
    doc: 'human teacher: a link of their own per person (comma-separated names, or @file with one per line), made from --human-token; only these links let pages in, each signs its holder in under their name',
    optional: true,
  }),
};

/** The names of these flags in a parsed-flags object. */
export const HUMAN_FLAG_KEYS = Object.keys(humanTeacherFlags);

export interface HumanFlagValues {
  readonly humanPort: number;
  readonly humanHost: string;
  readonly humanToken?: string;
  readonly humanTimeout: number;
  readonly humanOnTimeout: 'skip' | 'fail';
  readonly humanOverlap: number;
  readonly humanPeople?: string;
}

/**
 * What the resume command of a run taught by people carries after `--resume <run>`: the --human-*
 * flags given (values shell-quoted), so the links people hold keep working after the restart;
 * `--human-port 0` becomes the port the server on `storePath` picked (humanServedPort), where it
 * started one. The token is never printed: `--human-token <the same token>` stands for it. '' when
 * none was given.
 */
export function humanResumeArgs(f: HumanFlagValues, given: Iterable<string>, storePath?: string): string {
  const g = new Set(given);
  // --human-port 0 let the server pick a port, which the links handed out carry: the restart names it.
  const picked = f.humanPort === 0 && storePath !== undefined ? humanServedPort(storePath) : undefined;
  const value = (k: string): string => (k === 'humanToken' ? '<the same token>' : k === 'humanPort' && picked !== undefined ? String(picked) : shellQuote(String(f[k as keyof HumanFlagValues])));
  return HUMAN_FLAG_KEYS.filter((k) => g.has(k))
    .map((k) => ` ${flagName(k)} ${value(k)}`)
    .join('');
}

/**
 * The --human-* settings a run taught by people saves in its config.json, by flag name: every one
 * but the token, which is never written to a run folder (train saves its flags so; offline under
 * its config.json's `human`).
 */
export function humanFlagsToSave(f: HumanFlagValues): Record<string, unknown> {
  return Object.fromEntries(HUMAN_FLAG_KEYS.filter((k) => k !== 'humanToken').map((k) => [k, f[k as keyof HumanFlagValues]]));
}

/**
 * humanResumeArgs for a run taught by people, from the --human-* settings its config.json saved
 * (a `prefrl train` run's config.json itself, an offline run's `human`; where `prefrl runs` finds
 * them): those away from their defaults. The token is never saved; `--human-token <the same
 * token>` is asked for when the saved host or people needed one. `servedPort`: the port the run's
 * store recorded its server bound (LabelStore.servedPort), named in place of a saved port 0.
 */
export function savedHumanResumeArgs(cfg: Record<string, unknown>, servedPort?: number): string {
  const defaults = humanTeacherFlags as Record<string, { default?: unknown }>;
  // A saved --human-port 0 let the server pick the port the links carry (its store records it).
  const picked = (k: string): boolean => k === 'humanPort' && cfg[k] === 0 && servedPort !== undefined;
  const f = Object.fromEntries(HUMAN_FLAG_KEYS.map((k) => [k, picked(k) ? servedPort : (cfg[k] ?? defaults[k].default)])) as unknown as HumanFlagValues;
  const given = HUMAN_FLAG_KEYS.filter((k) => k !== 'humanToken' && cfg[k] !== undefined && cfg[k] !== null && JSON.stringify(cfg[k]) !== JSON.stringify(defaults[k].default));
  const host = typeof cfg.humanHost === 'string' ? cfg.humanHost : '127.0.0.1';
  if (!isLoopbackHost(host) || given.includes('humanPeople')) given.push('humanToken');
  return humanResumeArgs(f, given);
}

/**
 * The --human-people list each checked flags object gave (checkHumanFlags): humanServerSettings
 * passes it on rather than reading an @file a second time, which could have changed in between
 * (and whose errors would be reported again).
 */
const checkedPeople = new WeakMap<HumanFlagValues, readonly string[]>();

/**
 * Check the address, token and people before any work (the server checks them again when it
 * starts); an @file of --human-people is read here, once: the list is kept for humanServerSettings.
 */
export function checkHumanFlags(f: HumanFlagValues): void {
  checkViewerAccess(f.humanHost, f.humanToken, { host: '--human-host', token: '--human-token' });
  if (f.humanPeople !== undefined) {
    const people = readPeople(f.humanPeople, '--human-people');
    if (f.humanToken === undefined) throw new UsageError('--human-people: the personal links are made from the access token; give --human-token (at least 12 characters, e.g. "$(openssl rand -hex 16)")');
    checkedPeople.set(f, people);
  }
}

/**
 * The server settings the flags give (the store, env, logger and clock come from the command). The
 * people are those checkHumanFlags read from these flags; flags it never checked (a caller that
 * skips the check) have their --human-people read here.
 */
export function humanServerSettings(f: HumanFlagValues): Pick<HumanTeacherOptions, 'host' | 'port' | 'token' | 'timeoutS' | 'onTimeout' | 'overlap' | 'people'> {
  const people = f.humanPeople === undefined ? undefined : (checkedPeople.get(f) ?? readPeople(f.humanPeople, '--human-people'));
  return {
    host: f.humanHost,
    port: f.humanPort,
    token: f.humanToken,
    timeoutS: f.humanTimeout,
    onTimeout: f.humanOnTimeout,
    overlap: f.humanOverlap,
    ...(people === undefined ? {} : { people }),
  };
}

/**
 * Bind the viewer's port for a moment before any work: a port already taken would otherwise be
 * found only when the first pairs are asked (after the warm-up or the pairs stage, minutes in).
 * Port 0 (any free port) needs no check. A later taker of the port is still caught when the
 * server starts.
 */
export async function checkHumanPort(f: HumanFlagValues): Promise<void> {
  if (f.humanPort === 0) return;
  await new Promise<void>((done, fail) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') fail(new UsageError(`--human-port ${f.humanPort}: already in use on ${f.humanHost} (pick another port, or 0 for any free one)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') fail(new UsageError(`--human-host ${f.humanHost}: not an address of this machine`));
      else fail(e);
    });
    probe.listen(f.humanPort, f.humanHost, () => probe.close(() => done()));
  });
}
