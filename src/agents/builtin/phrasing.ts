import { z } from 'zod';
import type { Intent } from './intents.js';

/** The tool call that serves an intent. */
export function toolCallFor(intent: Intent): { readonly name: string; readonly args: Record<string, unknown> } {
  switch (intent.kind) {
    case 'calculate':
      return { name: 'calculator', args: { expression: intent.expression } };
    case 'time':
      return { name: 'clock', args: { timeZone: intent.timeZone } };
    case 'docs':
      return { name: 'search_docs', args: { query: intent.query, limit: 3 } };
    case 'wait':
      return { name: 'wait', args: { seconds: intent.seconds } };
  }
}

function describe(intent: Intent): string {
  switch (intent.kind) {
    case 'calculate':
      return `a calculation (${intent.expression}): I will use the calculator tool`;
    case 'time':
      return `the time in ${intent.timeZone}: I will use the clock tool`;
    case 'docs':
      return `information from the docs ("${intent.query}"): I will use the search_docs tool`;
    case 'wait':
      return `a pause of ${seconds(intent.seconds)}: I will use the wait tool`;
  }
}

export function planThought(intents: readonly Intent[]): string {
  const [only] = intents;
  if (!only)
    return 'The message matches none of my skills (calculator, clock, docs search, wait): I will explain what I can do.';
  if (intents.length === 1) return `The user asks for ${describe(only)}.`;
  const steps = intents.map((intent, i) => `${i + 1}. ${describe(intent)}`).join('; ');
  return `The user asks for ${intents.length} things, which I will handle in order: ${steps}.`;
}

export const HELP_TEXT =
  'I am the built-in offline agent: I work without a language model, so I only understand a few kinds of requests. ' +
  'I can calculate ("calculate 12*7"), tell the time in a time zone ("what time is it in Europe/Paris"), ' +
  'search the agentgate docs ("search docs for tickets") and wait ("wait 5 seconds"). ' +
  'Configure an LLM provider to talk to a real model.';

const calculatorResult = z.object({ expression: z.string(), result: z.union([z.number(), z.string()]) });
const clockResult = z.object({ timeZone: z.string(), local: z.string(), offset: z.string() });
const docsResult = z.object({
  results: z.array(z.object({ file: z.string(), heading: z.string(), excerpt: z.string() })),
});

/** The answer for a successful tool call; results are checked because the tool set is configurable. */
export function answerFor(intent: Intent, result: unknown): string {
  switch (intent.kind) {
    case 'calculate': {
      const parsed = calculatorResult.safeParse(result);
      return parsed.success
        ? `${parsed.data.expression} = ${parsed.data.result}`
        : `${intent.expression} = ${JSON.stringify(result)}`;
    }
    case 'time': {
      const parsed = clockResult.safeParse(result);
      if (!parsed.success) return `The clock said: ${JSON.stringify(result)}`;
      return `It is ${parsed.data.local} in ${parsed.data.timeZone} (UTC${parsed.data.offset}).`;
    }
    case 'docs': {
      const parsed = docsResult.safeParse(result);
      const hits = parsed.success ? parsed.data.results : [];
      if (hits.length === 0) return `I found nothing in the docs about "${intent.query}".`;
      const lines = hits.map((hit) => `- ${hit.heading} (${hit.file}): ${hit.excerpt}`);
      return `Here is what the docs say about "${intent.query}":\n${lines.join('\n')}`;
    }
    case 'wait':
      return `Done waiting ${seconds(intent.seconds)}.`;
  }
}

export function apologyFor(intent: Intent, message: string): string {
  const what = { calculate: 'calculate that', time: 'tell the time', docs: 'search the docs', wait: 'wait' }[
    intent.kind
  ];
  return `Sorry, I could not ${what}: ${message}`;
}

function seconds(n: number): string {
  return n === 1 ? '1 second' : `${n} seconds`;
}

/** Splits an answer into chunks of a few words; joined back together they give exactly `text`. */
export function chunksOf(text: string, wordsPerChunk = 4): string[] {
  // Leading whitespace rides on the first word so no chunk is blank.
  const words = text.match(/^\s*\S+\s*|\S+\s*/g) ?? (text ? [text] : []);
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerChunk) chunks.push(words.slice(i, i + wordsPerChunk).join(''));
  return chunks;
}
