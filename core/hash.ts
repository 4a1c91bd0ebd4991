import { createHash } from 'node:crypto';

/** Hex SHA-256 of text or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A short stable hash (first 16 hex digits of SHA-256), e.g. for model ids and cache keys. */
export function shortHash(data: string | Uint8Array): string {
  return sha256(data).slice(0, 16);
}
