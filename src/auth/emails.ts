/** Emails are unique case-insensitively: this is the one form used for comparison. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
