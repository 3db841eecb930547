/** Emails are unique case-insensitively: this is the one form used for comparison. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The admin rule: admins are named by ADMIN_EMAILS (normalized), never stored. */
export function isAdminEmail(adminEmails: readonly string[], email: string): boolean {
  return adminEmails.includes(normalizeEmail(email));
}
