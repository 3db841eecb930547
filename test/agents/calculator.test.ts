import { describe, expect, it } from 'vitest';
import { calculatorTool, ToolRegistry } from '../../src/agents/index.js';
import type { ToolOutcome } from '../../src/agents/index.js';
import { testContext } from './fake-io.js';

const registry = new ToolRegistry([calculatorTool]);
const calc = (expression: unknown): Promise<ToolOutcome> =>
  registry.invoke('calculator', { expression }, { run: testContext, signal: new AbortController().signal });

async function failure(expression: string): Promise<string> {
  const outcome = await calc(expression);
  if (outcome.ok) throw new Error(`expected "${expression}" to fail, got ${JSON.stringify(outcome.result)}`);
  expect(outcome.error.code).toBe('tool_failed');
  return outcome.error.message;
}

describe('calculator tool', () => {
  it('multiplies', async () => {
    expect(await calc('12*7')).toEqual({ ok: true, result: { expression: '12*7', result: 84 } });
  });

  it('follows operator precedence and functions', async () => {
    expect(await calc('2+3*4')).toMatchObject({ result: { result: 14 } });
    expect(await calc('(3+4)^2')).toMatchObject({ result: { result: 49 } });
    expect(await calc('sqrt(16) - 2^-1')).toMatchObject({ result: { result: 3.5 } });
    expect(await calc('0.1+0.2')).toMatchObject({ result: { result: 0.3 } });
  });

  it('formats non-number results as strings', async () => {
    expect(await calc('[1,2]*2')).toMatchObject({ result: { result: '[2, 4]' } });
    expect(await calc('2 inch to cm')).toMatchObject({ result: { result: '5.08 cm' } });
  });

  it('refuses assignments, so nothing can carry over between calls', async () => {
    expect(await failure('leak = 41; leak + 1')).toContain('not allowed');
    expect(await failure('leak')).toContain('Undefined symbol leak');
  });

  it('fails clearly on parse errors and non-finite results', async () => {
    expect(await failure('2 +')).toMatch(/^Could not evaluate "2 \+": Unexpected end of expression/);
    expect(await failure('1/0')).toContain('not a finite number');
  });

  it('validates the expression length', async () => {
    expect(await calc('')).toMatchObject({ ok: false, error: { code: 'invalid_arguments' } });
    expect(await calc('1+'.repeat(250) + '1')).toMatchObject({ ok: false, error: { code: 'invalid_arguments' } });
  });

  it.each([
    'import({x: 1}, {override: true})',
    'evaluate("1+1")',
    'parse("1+1")',
    'compile("1")',
    'createUnit("foo")',
    'simplify("x+x")',
    'derivative("x^2", "x")',
  ])('blocks %s', async (expression) => {
    expect(await failure(expression)).toContain('is not allowed');
  });

  it.each([
    'zeros(1e5, 1e5)',
    'ones(1e9)',
    '1:1e9',
    'range(1, 1e9)',
    'combinations(1e9, 5e8)',
    'isPrime(9007199254740881)',
    'random([1e9])',
  ])('refuses %s, which would exhaust memory or CPU', async (expression) => {
    expect(await failure(expression)).toContain('not allowed');
  });

  it.each([
    ['constructor', 'Undefined symbol constructor'],
    ['cos.constructor("return process")', 'not allowed'],
    ['cos["constructor"]', 'not allowed'],
    ['f(x) = x; f.constructor', 'not allowed'],
    ['cos.constructor("return process")()', 'Could not evaluate'],
    ['process', 'Undefined symbol process'],
    ['this', 'Undefined symbol this'],
  ])('gives %s no way out of the sandbox', async (expression, message) => {
    expect(await failure(expression)).toContain(message);
  });
});
