/** A random id for client messages (the server dedupes user_message by it, so it must not repeat). */
export function newId(): string {
  const crypto = globalThis.crypto;
  // randomUUID exists only in secure contexts (a page on plain http from another host has getRandomValues only).
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
