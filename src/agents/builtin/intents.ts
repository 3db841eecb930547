/**
 * How the offline agent reads a message: plain patterns, no model. A message is cut into clauses at "and",
 * "then", ";" and new lines; a clause that asks for something starts a new request, any other clause belongs to
 * the one before it (so "how do I create and cancel a run" stays one question).
 */
export type Intent =
  | { readonly kind: 'calculate'; readonly expression: string }
  | { readonly kind: 'time'; readonly timeZone: string }
  | { readonly kind: 'docs'; readonly query: string }
  | { readonly kind: 'wait'; readonly seconds: number };

// Single `\s` only: messages are whitespace-collapsed first, and nested `\s*`/`\s+` would backtrack cubically.
const CLAUSE_SEPARATOR = /[;\n]|,? (?:and then|and|then|also) /i;
/** Longer messages are only read this far: every pattern stays cheap whatever a user sends. */
const MAX_PLANNED_CHARS = 2000;
const WAIT = /\b(?:wait|sleep|pause)\s+(?:for\s+)?(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?)?\b/i;
const TIME =
  /\b(?:what\s+time|time\s+(?:is\s+it\s+)?in|(?:current|local)\s+time|the\s+time|time\s+now|clock)\b|^time\b/i;
const ZONE = /\b([a-z]+(?:_[a-z]+)*\/[a-z][a-z0-9_+-]*(?:\/[a-z][a-z0-9_+-]*)?)\b/i;
const UTC = /\b(UTC|GMT)\b/i;
const CALC = /\b(?:calculate|compute|evaluate|calc|solve|what\s+is|what's|how\s+much\s+is)\s+(.+)$/i;
const BARE_MATH = /^[\d\s.+\-*/^%!()]+$/;
const BARE_FUNCTION = /^(?:sqrt|cbrt|abs|exp|log|log10|log2|sin|cos|tan|round|floor|ceil|factorial)\s*\(.*\)$/i;
const DOCS_COMMAND = /\b(?:search\s+(?:the\s+)?docs?\s+(?:for|about)|docs?:|documentation\s+(?:for|about|on))\s*(.+)$/i;
const HOW_DO_I = /\bhow\s+(?:do|can|should|would)\s+(?:i|we|you)\b/i;
const DOCS_TOPIC = /\b(?:agentgate|tickets?|tokens?|websockets?|docs?|documentation)\b/i;
const WORD_OPERATORS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bmultiplied\s+by\b/gi, '*'],
  [/\bdivided\s+by\b/gi, '/'],
  [/\bto\s+the\s+power\s+of\b/gi, '^'],
  [/\bplus\b/gi, '+'],
  [/\bminus\b/gi, '-'],
  [/\btimes\b/gi, '*'],
];

/** The requests in a message, in the order they were asked. Empty when nothing is recognised. */
export function planIntents(message: string): Intent[] {
  const intents: Intent[] = [];
  let pending = '';
  const settle = (): void => {
    const intent = pending ? intentOf(pending) : null;
    if (intent) intents.push(intent);
  };
  const text = message.slice(0, MAX_PLANNED_CHARS).replace(/[^\S\n]+/g, ' ');
  for (const clause of text.split(CLAUSE_SEPARATOR).map(trimClause).filter(Boolean)) {
    const own = intentOf(clause);
    // A second docs clause joins the first: one search over the whole question beats two over its halves.
    const previous = pending ? intentOf(pending) : null;
    if (own && !(own.kind === 'docs' && previous?.kind === 'docs')) {
      settle();
      pending = clause;
    } else {
      pending = pending ? `${pending} and ${clause}` : clause;
    }
  }
  settle();
  return intents;
}

function intentOf(clause: string): Intent | null {
  const text = trimClause(clause);
  const command = DOCS_COMMAND.exec(text);
  if (command?.[1]) return docs(command[1]);

  const wait = WAIT.exec(text);
  if (wait?.[1]) return { kind: 'wait', seconds: Number(wait[1]) * (wait[2]?.toLowerCase().startsWith('m') ? 60 : 1) };

  const zone = ZONE.exec(text)?.[1] ?? UTC.exec(text)?.[1]?.toUpperCase();
  // "what time does my token expire" is a docs question, not a clock one.
  if (TIME.test(text) && (zone || !DOCS_TOPIC.test(text))) return { kind: 'time', timeZone: zone ?? 'UTC' };

  const calc = CALC.exec(text);
  const expression = calc?.[1] ? toExpression(calc[1]) : null;
  if (expression && looksLikeMath(expression)) return { kind: 'calculate', expression };
  if (isBareMath(text)) return { kind: 'calculate', expression: text };

  if (HOW_DO_I.test(text) || DOCS_TOPIC.test(text)) return docs(text);
  return null;
}

function docs(query: string): Intent {
  return { kind: 'docs', query: trimClause(query).slice(0, 200) };
}

function trimClause(text: string): string {
  // A loop rather than /[\s?.,;:]+$/, which is quadratic on long runs of those characters.
  let end = text.length;
  while (end > 0 && /[\s?.,;:]/.test(text.charAt(end - 1))) end -= 1;
  return text
    .slice(0, end)
    .trim()
    .replace(/^(?:please|can you|could you|and|then)\s+/i, '');
}

function toExpression(text: string): string {
  let expression = text.replace(/^(?:the\s+value\s+of\s+)/i, '');
  for (const [pattern, operator] of WORD_OPERATORS) expression = expression.replace(pattern, operator);
  return expression.trim();
}

/** "what is 5 cm to inch" is maths, "what is a ticket" is not: a digit or a known function decides. */
function looksLikeMath(expression: string): boolean {
  return /\d/.test(expression) || BARE_FUNCTION.test(expression) || /^(?:pi|e|tau|phi)\b/i.test(expression);
}

function isBareMath(text: string): boolean {
  return (BARE_MATH.test(text) && /\d/.test(text) && /[+\-*/^%!(]/.test(text)) || BARE_FUNCTION.test(text);
}
