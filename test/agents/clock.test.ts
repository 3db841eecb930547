import { describe, expect, it } from 'vitest';
import { clockTool, createClockTool, ToolRegistry } from '../../src/agents/index.js';
import { testContext } from './fake-io.js';

const fixed = new Date('2026-11-23T13:05:09Z');
const registry = new ToolRegistry([createClockTool({ now: () => fixed })]);
const ctx = { run: testContext, signal: new AbortController().signal };

describe('clock tool', () => {
  it('tells the time in a zone with a "+HH:MM" offset', async () => {
    expect(await registry.invoke('clock', { timeZone: 'Europe/Paris' }, ctx)).toEqual({
      ok: true,
      result: {
        timeZone: 'Europe/Paris',
        iso: '2026-11-23T13:05:09.000Z',
        local: '2026-11-23 14:05:09',
        offset: '+01:00',
      },
    });
  });

  it('handles negative and half-hour offsets, and summer time', async () => {
    const summer = new ToolRegistry([createClockTool({ now: () => new Date('2026-07-01T00:30:00Z') })]);
    expect(await summer.invoke('clock', { timeZone: 'America/New_York' }, ctx)).toMatchObject({
      result: { local: '2026-06-30 20:30:00', offset: '-04:00' },
    });
    expect(await registry.invoke('clock', { timeZone: 'Asia/Kolkata' }, ctx)).toMatchObject({
      result: { timeZone: 'Asia/Kolkata', local: '2026-11-23 18:35:09', offset: '+05:30' },
    });
  });

  it('defaults to UTC and fixes the capitalisation of zone names', async () => {
    expect(await registry.invoke('clock', {}, ctx)).toMatchObject({
      result: { timeZone: 'UTC', local: '2026-11-23 13:05:09', offset: '+00:00' },
    });
    expect(await registry.invoke('clock', { timeZone: 'asia/tokyo' }, ctx)).toMatchObject({
      result: { timeZone: 'Asia/Tokyo', local: '2026-11-23 22:05:09' },
    });
  });

  it('rejects a zone that does not exist', async () => {
    expect(await registry.invoke('clock', { timeZone: 'Mars/Olympus_Mons' }, ctx)).toEqual({
      ok: false,
      error: {
        code: 'tool_failed',
        message: 'Unknown time zone "Mars/Olympus_Mons": use an IANA name such as "Europe/Paris" or "UTC".',
      },
    });
  });

  it('uses the real time by default', async () => {
    const before = Date.now();
    const outcome = await new ToolRegistry([clockTool]).invoke('clock', {}, ctx);
    if (!outcome.ok) throw new Error('clock failed');
    const iso = (outcome.result as { iso: string }).iso;
    expect(Date.parse(iso)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(iso)).toBeLessThanOrEqual(Date.now());
  });
});
