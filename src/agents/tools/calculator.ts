import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as MathJs from 'mathjs';
import type { MathJsInstance, MathNode } from 'mathjs';
import { z } from 'zod';
import { defineTool } from './tool.js';

/**
 * Scalar and small-matrix functions an expression may call. An allowlist rather than the mathjs "security"
 * denylist: besides the parser-reentry functions, mathjs has size-taking functions (`zeros(1e5,1e5)`, `1:1e9`,
 * `combinations(1e9,5e8)`) that would exhaust memory or CPU from a 20-character expression.
 */
const ALLOWED_FUNCTIONS = new Set([
  'abs',
  'sqrt',
  'cbrt',
  'exp',
  'expm1',
  'log',
  'log10',
  'log2',
  'log1p',
  'pow',
  'nthRoot',
  'hypot',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'atan2',
  'sinh',
  'cosh',
  'tanh',
  'sec',
  'csc',
  'cot',
  'round',
  'floor',
  'ceil',
  'fix',
  'sign',
  'mod',
  'gcd',
  'lcm',
  'factorial',
  'gamma',
  'min',
  'max',
  'mean',
  'median',
  'sum',
  'prod',
  'std',
  'variance',
  'det',
  'inv',
  'transpose',
  'dot',
  'cross',
  'norm',
  'number',
]);
const ALLOWED_CONSTANTS = new Set(['pi', 'e', 'tau', 'phi', 'PI', 'E', 'LN2', 'LN10', 'SQRT2']);
const ALLOWED_NODES = new Set([
  'ConstantNode',
  'OperatorNode',
  'ParenthesisNode',
  'FunctionNode',
  'SymbolNode',
  'ArrayNode',
]);

/**
 * mathjs is loaded by the first calculation, not at start-up. Its public entry point builds every function as it is
 * imported: about 55 MiB more resident memory in the server and 0.9-1.6 s of blocked event loop on a busy 2-core
 * machine. Loaded instead are `create` and the function factories, and `create(all)` builds each function on first
 * use: the same functions for about 40 MiB and 0.2-0.4 s blocked (docs/BENCHMARKS.md, "startup"). The package's
 * `exports` map hides those two files, so they are found from its package.json; a future layout without them falls
 * back to the public entry point.
 */
let mathjs: Promise<MathJsInstance> | undefined;
function loadMath(): Promise<MathJsInstance> {
  return (mathjs ??= (async () => {
    const { all, create } = await importFactories().catch(() => import('mathjs'));
    if (!all) throw new Error('mathjs did not export its function factories');
    return create(all);
  })());
}

type Factories = Pick<typeof MathJs, 'all' | 'create'>;

async function importFactories(): Promise<Factories> {
  const esm = new URL('lib/esm/', pathToFileURL(createRequire(import.meta.url).resolve('mathjs/package.json')));
  const [{ create }, { all }] = (await Promise.all([
    import(new URL('core/create.js', esm).href),
    import(new URL('entry/allFactoriesAny.js', esm).href),
  ])) as [Partial<Factories>, Partial<Factories>];
  if (typeof create !== 'function' || typeof all !== 'object') throw new Error('mathjs has moved its factories');
  return { create, all };
}

const calculatorParameters = z.object({
  expression: z
    .string()
    .min(1)
    .max(500)
    .describe('A math expression such as "12*7", "(3+4)^2", "sqrt(16)" or "5 cm to inch".'),
});

interface CalculatorResult {
  readonly expression: string;
  /** A number, or the formatted value when the result is not a plain number (matrix, unit...). */
  readonly result: number | string;
}

async function calculate(expression: string): Promise<CalculatorResult> {
  const math = await loadMath();
  let value: unknown;
  try {
    const node = math.parse(expression);
    checkAllowed(math, node);
    value = node.compile().evaluate(new Map());
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Could not evaluate "${expression}": ${reason}`);
  }
  return { expression, result: toResult(math, expression, value) };
}

function checkAllowed(math: MathJsInstance, root: MathNode): void {
  root.traverse((node, _path, parent) => {
    if (!ALLOWED_NODES.has(node.type))
      throw new Error(`${node.type.replace(/Node$/, '').toLowerCase()} expressions are not allowed`);
    if (node.type === 'FunctionNode') {
      const name = (node as MathNode & { fn: MathNode }).fn;
      if (name.type !== 'SymbolNode' || !ALLOWED_FUNCTIONS.has((name as MathNode & { name: string }).name)) {
        throw new Error(`function ${name.toString()} is not allowed`);
      }
    }
    if (node.type === 'SymbolNode' && parent?.type !== 'FunctionNode') {
      const { name } = node as MathNode & { name: string };
      if (!ALLOWED_CONSTANTS.has(name) && !math.Unit.isValuelessUnit(name)) throw new Error(`Undefined symbol ${name}`);
    }
  });
}

function toResult(math: MathJsInstance, expression: string, value: unknown): number | string {
  if (value === undefined || value === null) throw new Error(`"${expression}" does not produce a value.`);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new Error(`The result of "${expression}" is not a finite number (${String(value)}).`);
    // 14 significant digits hides binary noise such as 0.1+0.2 = 0.30000000000000004.
    return Number(math.format(value, { precision: 14 }));
  }
  return math.format(value, { precision: 14 });
}

export const calculatorTool = defineTool({
  name: 'calculator',
  description:
    'Evaluates a math expression exactly (arithmetic, functions like sqrt/sin/log, small matrices, unit conversions). ' +
    'Use it for any calculation instead of doing arithmetic yourself.',
  parameters: calculatorParameters,
  execute: async ({ expression }) => calculate(expression),
});
