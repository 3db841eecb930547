import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, ToolRegistry } from '../../src/agents/index.js';
import type { ToolContext } from '../../src/agents/index.js';
import { testContext } from './fake-io.js';

const echo = defineTool({
  name: 'echo',
  description: 'Echoes its text.',
  parameters: z.object({ text: z.string().min(1), times: z.number().int().min(1).default(1) }),
  execute: async ({ text, times }) => text.repeat(times),
});

const broken = defineTool({
  name: 'broken',
  description: 'Always fails.',
  parameters: z.object({}),
  execute: async () => {
    throw new Error('disk on fire');
  },
});

/** Ignores its signal on purpose: the registry must still return promptly on abort. */
const stubborn = defineTool({
  name: 'stubborn',
  description: 'Never finishes.',
  parameters: z.object({}),
  execute: () => new Promise(() => {}),
});

function ctx(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { run: testContext, signal };
}

describe('ToolRegistry', () => {
  const registry = new ToolRegistry([echo, broken, stubborn]);

  it('rejects duplicate tool names with a TypeError', () => {
    expect(() => new ToolRegistry([echo, echo])).toThrow(TypeError);
  });

  it('knows its tools', () => {
    expect(registry.has('echo')).toBe(true);
    expect(registry.has('nope')).toBe(false);
  });

  it('runs a tool with parsed arguments (defaults applied)', async () => {
    expect(await registry.invoke('echo', { text: 'ab', times: 2 }, ctx())).toEqual({ ok: true, result: 'abab' });
    expect(await registry.invoke('echo', { text: 'ab' }, ctx())).toEqual({ ok: true, result: 'ab' });
  });

  it('reports an unknown tool', async () => {
    const outcome = await registry.invoke('nope', {}, ctx());
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe('unknown_tool');
    expect(outcome.error.message).toContain('nope');
  });

  it('reports invalid arguments with every issue and its path', async () => {
    const outcome = await registry.invoke('echo', { text: '', times: 'x' }, ctx());
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe('invalid_arguments');
    expect(outcome.error.message).toMatch(/^Invalid arguments for echo: /);
    expect(outcome.error.message).toContain('text:');
    expect(outcome.error.message).toContain('times:');
  });

  it('turns a throwing tool into tool_failed with only the message', async () => {
    const outcome = await registry.invoke('broken', {}, ctx());
    expect(outcome).toEqual({ ok: false, error: { code: 'tool_failed', message: 'disk on fire' } });
  });

  it('rethrows the abort reason when aborted before the call', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled by user');
    controller.abort(reason);
    await expect(registry.invoke('echo', { text: 'a' }, ctx(controller.signal))).rejects.toBe(reason);
  });

  it('rethrows the abort reason promptly when aborted during a tool that ignores the signal', async () => {
    const controller = new AbortController();
    const reason = new Error('run timed out');
    const pending = registry.invoke('stubborn', {}, ctx(controller.signal));
    setTimeout(() => controller.abort(reason), 10);
    await expect(pending).rejects.toBe(reason);
  });

  it('does not turn a tool failure caused by the abort into an outcome', async () => {
    const controller = new AbortController();
    const failsOnAbort = defineTool({
      name: 'fails_on_abort',
      description: 'Throws its own error when aborted.',
      parameters: z.object({}),
      execute: async (_args, { signal }) => {
        controller.abort(new Error('the reason'));
        throw new Error(`tool noticed: ${signal.aborted}`);
      },
    });
    const outcome = new ToolRegistry([failsOnAbort]).invoke('fails_on_abort', {}, ctx(controller.signal));
    await expect(outcome).rejects.toThrow('the reason');
  });

  it('describes tools with JSON Schemas of their input', () => {
    const specs = registry.specs();
    expect(specs.map((s) => s.name)).toEqual(['echo', 'broken', 'stubborn']);
    const schema = specs[0]?.parameters;
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { text: { type: 'string', minLength: 1 }, times: { type: 'integer', default: 1 } },
      required: ['text'],
    });
  });

  it('hands out copies of the specs', () => {
    const first = registry.specs();
    (first[0]?.parameters as { type: string }).type = 'tampered';
    expect(registry.specs()[0]?.parameters['type']).toBe('object');
  });
});
