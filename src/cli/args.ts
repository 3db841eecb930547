import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Wrong arguments: the message says what, and the caller prints the command's help after it (exit 2). */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs returns for these options (named, so the declaration build can write it down). */
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>
>;

/**
 * `node:util` parseArgs, strict, plus `--help`/`-h` on every command: undefined when help was asked for (the caller
 * prints it and exits 0). Anything parseArgs refuses becomes a UsageError.
 */
export function parseCommand<O extends Options>(
  args: readonly string[],
  options: O,
  positionals = false,
): Parsed<O> | undefined {
  if (args.includes('--help') || args.includes('-h')) return undefined;
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: positionals });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** A required string option. */
export function required(value: string | boolean | Array<string | boolean> | undefined, name: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required.`);
  return value;
}
