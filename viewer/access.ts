/**
 * Who may reach a labelling server: loopback only without a token; beyond this machine only
 * with an access token teachers present. Apart from server.ts so that commands can check their
 * flags before any work without loading the server and its WebSocket library.
 */
import { UsageError } from '../core/errors.js';

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
