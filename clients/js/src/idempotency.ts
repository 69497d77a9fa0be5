/** `Idempotency-Key` on submits: the header name and fresh keys for `autoIdempotency`. */

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

interface RandomSource {
  randomUUID?: () => string;
  getRandomValues?: <T extends ArrayBufferView | null>(array: T) => T;
}

/**
 * A random (version 4) UUID: `crypto.randomUUID` where there is one, else built from
 * `crypto.getRandomValues`, else (Node 18 without a global crypto) from Math.random,
 * which is enough for a key that only has to differ from this caller's other keys.
 */
export function newIdempotencyKey(): string {
  const source = (globalThis as { crypto?: RandomSource }).crypto;
  if (typeof source?.randomUUID === 'function') return source.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof source?.getRandomValues === 'function') source.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
