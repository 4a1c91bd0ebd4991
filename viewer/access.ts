/**
 * Who may reach a labelling server: loopback only without a token; beyond this machine only
 * with an access token teachers present. Apart from server.ts so that commands can check their
 * flags before any work without loading the server and its WebSocket library.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError, shownValue, UsageError } from '../core/errors.js';
import { MAX_NAME_CHARS, normaliseName } from './protocol.js';

export const MIN_TOKEN_CHARS = 12;

/** True for addresses and names that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The address and token rules of a labelling server (checked again when it starts): a token of
 * at least MIN_TOKEN_CHARS printable characters, required beyond loopback. Throws a UsageError
 * naming the command's flags (serve's --host / --token by default; train's and offline's are
 * --human-host / --human-token).
 */
export function checkViewerAccess(host: string, token: string | undefined, names: { host: string; token: string } = { host: '--host', token: '--token' }): void {
  if (token !== undefined) {
    if (token.length < MIN_TOKEN_CHARS) throw new UsageError(`${names.token}: use at least ${MIN_TOKEN_CHARS} characters`);
    if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${names.token}: use printable ASCII characters without spaces`);
  }
  if (!isLoopbackHost(host) && token === undefined) {
    throw new UsageError(`${names.host} ${host}: serving beyond this machine needs an access token (${names.token}, at least ${MIN_TOKEN_CHARS} characters) that teachers present`);
  }
}

/** At most this many people get personal links from one server. */
export const MAX_PEOPLE = 1000;

/**
 * The one rule for the people of a server (parsePeople's result, and ViewerServer.start's `people`
 * as a script passes it): at least one, at most MAX_PEOPLE, each a name as the page normalises it
 * (normaliseName), none twice. Throws a UsageError naming `flag` (the command's: serve's --people,
 * train's and offline's --human-people).
 */
export function checkPeople(people: readonly string[], flag = '--people'): void {
  if (people.length === 0) throw new UsageError(`${flag}: name at least one person`);
  if (people.length > MAX_PEOPLE) throw new UsageError(`${flag}: at most ${MAX_PEOPLE} names, got ${people.length}`);
  const seen = new Map<string, string>();
  for (const name of people) {
    if (typeof name !== 'string' || normaliseName(name) !== name) throw new UsageError(`${flag}: ${shownValue(name)} is not a normalised name`);
    const other = seen.get(name.toLowerCase());
    if (other === name) throw new UsageError(`${flag}: ${shownValue(name)} is named twice`);
    // Names are case-sensitive (each is a teacher of its own, human:<name>), so two that differ only
    // in case would give one person two links and two teacher names: most likely a typo.
    if (other !== undefined) throw new UsageError(`${flag}: ${shownValue(other)} and ${shownValue(name)} differ only in case; name each person once (names are case-sensitive: they would be two teachers, human:${other} and human:${name})`);
    seen.set(name.toLowerCase(), name);
  }
}

/**
 * The people a server hands personal links to, from a comma-separated list of names (`--people
 * "Ada,Alan Turing"`): each normalised as the page normalises a typed name, then checkPeople.
 * Throws a UsageError naming `flag` for an empty list, a name the page would refuse (by its place
 * in the list), too many names or a repeated name.
 */
export function parsePeople(raw: string, flag = '--people'): string[] {
  const parts = raw.split(',');
  if (parts.every((p) => p.trim() === '')) throw new UsageError(`${flag}: expected a comma-separated list of names, e.g. ${flag} "Ada,Alan"`);
  const out = parts.map((part, i) => {
    const name = normaliseName(part);
    if (name === null) {
      throw new UsageError(
        `${flag}: name ${i + 1} (${shownValue(part)}) is not a name the page accepts: 1 to ${MAX_NAME_CHARS} letters, digits, spaces, ".", "_" or "-", starting with a letter or digit`,
      );
    }
    return name;
  });
  checkPeople(out, flag);
  return out;
}

/**
 * A --people value: names separated by commas, or `@file` naming a file with one name per line (blank lines
 * and lines starting with # are skipped).
 */
export function readPeople(value: string, flag = '--people'): string[] {
  if (!value.startsWith('@')) return parsePeople(value, flag);
  const path = value.slice(1);
  if (path === '') throw new UsageError(`${flag} @: name the file after the @ (one name per line)`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? `no such file (${flag} @file: one name per line)` : code === 'EISDIR' ? `is a folder, not a file of names (${flag} @file)` : `cannot read: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new InputError(path, `holds no names (${flag} @file: one name per line; # starts a comment)`);
  for (const [i, l] of lines.entries()) if (l.includes(',')) throw new InputError(path, `name ${i + 1} (${JSON.stringify(l)}) holds a comma: one name per line`);
  try {
    return parsePeople(lines.join(','), `${flag} ${value}`);
  } catch (e) {
    if (e instanceof UsageError) throw new InputError(path, e.message.replace(`${flag} ${value}: `, ''));
    throw e;
  }
}

/**
 * A person's own access token: an HMAC of their (normalised) name under the server's token, so the
 * same --token and name give the same link after a restart, and one person's link tells nothing of
 * another's or of the server's token. 24 base64url characters (144 bits).
 */
export function personalToken(serverToken: string, name: string): string {
  return createHmac('sha256', serverToken).update(`prefrl-person\u0000${name}`).digest('base64url').slice(0, 24);
}
