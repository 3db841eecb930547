import { z } from 'zod';
import { defineTool } from './tool.js';
import type { Tool } from './tool.js';

const clockParameters = z.object({
  timeZone: z
    .string()
    .min(1)
    .max(64)
    .default('UTC')
    .describe('An IANA time zone such as "Europe/Paris" or "Asia/Tokyo". Defaults to UTC.'),
});

interface ClockResult {
  /** The zone as asked for, with its canonical capitalisation ("europe/paris" gives "Europe/Paris"). */
  readonly timeZone: string;
  /** The instant in UTC, ISO 8601. */
  readonly iso: string;
  /** Wall-clock time in the zone, "YYYY-MM-DD HH:mm:ss". */
  readonly local: string;
  /** The zone's offset from UTC at that instant, always "+HH:MM" or "-HH:MM". */
  readonly offset: string;
}

export interface ClockOptions {
  /** Where the current time comes from; tests pin it. */
  readonly now?: () => Date;
}

function timeIn(timeZone: string, at: Date): ClockResult {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
  } catch (err) {
    if (err instanceof RangeError)
      throw new Error(`Unknown time zone "${timeZone}": use an IANA name such as "Europe/Paris" or "UTC".`);
    throw err;
  }
  const parts = new Map(format.formatToParts(at).map((part) => [part.type, part.value]));
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.get(type) ?? '00';
  // ICU canonicalises to legacy names (Asia/Kolkata becomes Asia/Calcutta); only borrow its spelling of the same name.
  const resolved = format.resolvedOptions().timeZone;
  return {
    timeZone: resolved.toLowerCase() === timeZone.toLowerCase() ? resolved : timeZone,
    iso: at.toISOString(),
    local: `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`,
    offset: normaliseOffset(parts.get('timeZoneName') ?? 'GMT'),
  };
}

/** ICU writes "GMT" for a zero offset and "GMT+01:00" otherwise; callers get one shape whatever the zone. */
function normaliseOffset(name: string): string {
  if (name === 'GMT' || name === 'UTC') return '+00:00';
  const match = /^GMT([+-]\d{2}):?(\d{2})?$/.exec(name);
  return match ? `${match[1] ?? '+00'}:${match[2] ?? '00'}` : name;
}

export function createClockTool(options: ClockOptions = {}): Tool<typeof clockParameters> {
  const now = options.now ?? (() => new Date());
  return defineTool({
    name: 'clock',
    description: 'Tells the current date and time in a time zone (IANA name, default UTC), with its UTC offset.',
    parameters: clockParameters,
    execute: async ({ timeZone }) => timeIn(timeZone, now()),
  });
}

export const clockTool = createClockTool();
