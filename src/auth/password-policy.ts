import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../errors/index.js';

/**
 * What NIST SP 800-63B (5.1.1.2) asks of a new password beyond its length: not one of the commonly used ones
 * (zxcvbn's list of the ~49,000 most frequent in breaches, compared case-insensitively), not repetitive or
 * sequential characters, not the account's own email. No composition rules: the guideline advises against them.
 */
export function checkNewPassword(password: string, email: string): void {
  const problem = problemOf(password, email);
  if (problem === undefined) return;
  throw new AppError('invalid_request', `password: ${problem}`, { details: [{ path: 'password', message: problem }] });
}

function problemOf(password: string, email: string): string | undefined {
  const folded = password.toLowerCase();
  if (commonPasswords().has(folded)) return 'this is one of the most commonly used passwords: choose another.';
  const chars = Array.from(password);
  if (new Set(chars).size === 1) return 'one character repeated is not a password: choose another.';
  if (isSequence(chars)) return 'a run of consecutive characters (such as 23456789 or bcdefghi) is too easy to guess.';
  const address = email.trim().toLowerCase();
  if (folded === address || folded === address.split('@')[0]) return 'the password must not be your email address.';
  return undefined;
}

/** Each character one code point after (or before) the previous one: 12345678, abcdefgh, 87654321. */
function isSequence(chars: readonly string[]): boolean {
  const codes = chars.map((c) => c.toLowerCase().codePointAt(0) ?? 0);
  const step = (codes[1] ?? 0) - (codes[0] ?? 0);
  return (step === 1 || step === -1) && codes.every((code, i) => i === 0 || code - (codes[i - 1] ?? 0) === step);
}

let common: ReadonlySet<string> | undefined;

/** Built on first use (a few milliseconds), then kept. */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  return common;
}
