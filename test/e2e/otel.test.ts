import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from '@opentelemetry/semantic-conventions/incubating';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { packagesLoadedBy } from '../../src/testing/loaded-packages.js';
import { FakeLlmServer, openAiReply, openAiToolCall } from '../../src/testing/fake-llm/index.js';
import { registerUser, request } from '../../src/testing/index.js';
import { send, terminalOf, useTestApp } from './helpers/runs.js';

/** OpenTelemetry traces (issue 25.7): exported to a local OTLP/HTTP receiver, as a collector would get them. */

type Value = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  arrayValue?: { values: Value[] };
};
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Value }[];
  status?: { code?: number };
}
interface Span extends Omit<OtlpSpan, 'attributes'> {
  attributes: Record<string, unknown>;
}
const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;

/** A local OTLP/HTTP receiver: takes POST /v1/traces in OTLP JSON, keeps the bodies and the headers they came with. */
async function startReceiver(): Promise<{
  url: string;
  bodies: string[];
  headers: IncomingHttpHeaders[];
  spans: () => Span[];
  resources: () => Record<string, unknown>[];
  close: () => Promise<void>;
}> {
  const bodies: string[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        bodies.push(body);
        headers.push(req.headers);
      }
      res.writeHead(req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const parsed = () =>
    bodies.flatMap(
      (b) =>
        (
          JSON.parse(b) as {
            resourceSpans: {
              resource: { attributes: { key: string; value: Value }[] };
              scopeSpans: { spans: OtlpSpan[] }[];
            }[];
          }
        ).resourceSpans,
    );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    headers,
    spans: () =>
      parsed()
        .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
        .map((s) => ({ ...s, attributes: attributesOf(s.attributes ?? []) })),
    resources: () => parsed().map((r) => attributesOf(r.resource.attributes)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function attributesOf(list: { key: string; value: Value }[]): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, plain(value)]));
}

function plain(value: Value): unknown {
  if (value.arrayValue !== undefined) return value.arrayValue.values.map(plain);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue;
}

const receiver = await startReceiver();
const fake = await FakeLlmServer.start('openai');
afterAll(async () => {
  await fake.close();
  await receiver.close();
});

const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
const runEnded = (runId: string): Record<string, unknown> | undefined =>
  logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'run ended' && l.runId === runId);

const exportedText = (): string => receiver.bodies.join('\n');
const API_KEY = 'sk-test-not-a-real-key-0123456789';
const EXPORT_SECRET = 'otlp-secret-value';

describe('OpenTelemetry traces to an OTLP/HTTP receiver', () => {
  const t = useTestApp(
    {
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: fake.url,
      LLM_MODEL: 'gpt-fake',
      LLM_API_KEY: API_KEY,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: `x-otlp-key=${encodeURIComponent(EXPORT_SECRET)}`,
    },
    { logger },
  );

  it('spans of HTTP requests (continuing a traceparent), runs, model calls and tool calls, linked parent to child, with no secret or message text', async () => {
    const user = await registerUser(t.app.url, 'traced');
    const callerTrace = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const traceparent = `00-${callerTrace}-${callerSpan}-01`;

    // An HTTP request that continues the caller's trace; its query string is never recorded.
    const listed = await request(t.app.url, 'GET', '/threads?limit=5', {
      token: user.accessToken,
      headers: { traceparent, 'x-request-id': 'list-req-1' },
    });
    expect(listed.status).toBe(200);

    // A chat run over the socket whose model calls a tool.
    const secretText = `what time is it? message-text-${randomUUID()}`;
    fake.enqueue(openAiToolCall('clock', { timeZone: 'UTC' }), openAiReply({ text: ['It is noon.'] }));
    const ws = await t.open(user);
    const ack = await send(ws, { id: 'otel-1', text: secretText });
    await terminalOf(ws, ack.runId, 20_000);
    const executing = ws.eventsOf(ack.runId).find((e) => e.type === 'tool_executing');
    const toolCallId = executing?.type === 'tool_executing' ? executing.toolCallId : 'none';
    // A tool the model made up: a failed call, its name not recorded.
    fake.enqueue(openAiToolCall('made_up_tool', {}), openAiReply({ text: ['Sorry.'] }));
    const madeUp = await send(ws, { id: 'otel-2', text: 'use a tool that does not exist' });
    await terminalOf(ws, madeUp.runId, 20_000);

    // A run started over HTTP (POST /agui): a child of its request's span, logged with its request id.
    const aguiTrace = randomBytes(16).toString('hex');
    const aguiRunId = randomUUID();
    const aguiText = `agui-message-text-${randomUUID()}`;
    fake.enqueue(openAiReply({ text: ['Hello over AG-UI.'] }));
    const agui = await fetch(`${t.app.url}/agui`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user.accessToken}`,
        'content-type': 'application/json',
        traceparent: `00-${aguiTrace}-${randomBytes(8).toString('hex')}-01`,
        'x-request-id': 'agui-req-1',
      },
      body: JSON.stringify({
        threadId: randomUUID(),
        runId: aguiRunId,
        messages: [{ id: randomUUID(), role: 'user', content: aguiText }],
        tools: [],
        context: [],
        state: {},
        forwardedProps: {},
      }),
    });
    expect(agui.status).toBe(200);
    expect(await agui.text()).toContain('RUN_FINISHED');

    // Stopping flushes what is still buffered.
    await t.app.stop();
    const spans = receiver.spans();
    const named = (name: string): Span[] => spans.filter((s) => s.name === name);
    const childrenOf = (parent: Span): Span[] => spans.filter((s) => s.parentSpanId === parent.spanId);

    expect(receiver.resources()[0]).toMatchObject({
      'service.name': 'agentgate',
      'service.instance.id': t.app.instanceId,
    });
    expect(receiver.headers[0]?.['x-otlp-key']).toBe(EXPORT_SECRET);
    expect(receiver.headers[0]?.['content-type']).toBe('application/json');

    // The HTTP request: the caller's trace, under the caller's span, by route template.
    const list = named('GET /threads').find((s) => s.attributes['agentgate.request.id'] === 'list-req-1');
    expect(list).toMatchObject({
      traceId: callerTrace,
      parentSpanId: callerSpan,
      kind: SERVER,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/threads',
        'url.path': '/threads',
        'url.scheme': 'http',
        'http.response.status_code': 200,
      },
    });

    // The socket run: a trace of its own, its model and tool calls beneath it.
    const run = spans.find((s) => s.attributes['agentgate.run.id'] === ack.runId)!;
    expect(run).toMatchObject({
      name: 'invoke_agent openai:gpt-fake',
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent',
        'gen_ai.agent.name': 'openai:gpt-fake',
        [ATTR_GEN_AI_CONVERSATION_ID]: ack.threadId,
        'user.id': user.user.id,
        'agentgate.run.status': 'completed',
        [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 22,
        [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 14,
      },
    });
    expect(run.parentSpanId ?? '').toBe('');
    expect(run.traceId).not.toBe(callerTrace);
    const children = childrenOf(run);
    expect(children.map((s) => s.name)).toEqual(['chat gpt-fake', 'execute_tool clock', 'chat gpt-fake']);
    for (const child of children) expect(child.traceId).toBe(run.traceId);
    const [firstCall, tool] = children;
    expect(firstCall).toMatchObject({
      kind: CLIENT,
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: 'chat',
        [ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
        [ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-fake',
        [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 11,
        [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 7,
        'gen_ai.response.finish_reasons': ['tool_calls'],
        'gen_ai.request.max_tokens': 4096,
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(fake.url).port),
      },
    });
    expect(tool).toMatchObject({
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: 'execute_tool',
        [ATTR_GEN_AI_TOOL_NAME]: 'clock',
        [ATTR_GEN_AI_TOOL_CALL_ID]: toolCallId,
        'gen_ai.tool.type': 'function',
      },
    });
    expect(tool?.status?.code).not.toBe(STATUS_ERROR);
    const madeUpRun = spans.find((s) => s.attributes['agentgate.run.id'] === madeUp.runId)!;
    const failed = childrenOf(madeUpRun).find((s) => s.name === 'execute_tool');
    expect(failed).toMatchObject({ status: { code: STATUS_ERROR }, attributes: { 'error.type': 'unknown_tool' } });
    expect(failed?.attributes).not.toHaveProperty(ATTR_GEN_AI_TOOL_NAME);
    expect(exportedText()).not.toContain('made_up_tool');

    // The AG-UI run: under its POST /agui span, in the caller's trace.
    const post = named('POST /agui')[0]!;
    expect(post).toMatchObject({ traceId: aguiTrace, attributes: { 'agentgate.request.id': 'agui-req-1' } });
    const aguiRun = spans.find((s) => s.attributes['agentgate.run.id'] === aguiRunId)!;
    expect(aguiRun).toMatchObject({ traceId: aguiTrace, parentSpanId: post.spanId });
    expect(childrenOf(aguiRun).map((s) => s.name)).toEqual(['chat gpt-fake']);

    // Logs: what a request caused carries its id; a socket's run, its connection; both their trace id.
    expect(runEnded(aguiRunId)).toMatchObject({ requestId: 'agui-req-1', traceId: aguiTrace, status: 'completed' });
    expect(runEnded(ack.runId)).toMatchObject({
      connectionId: expect.any(String),
      clientMessageId: 'otel-1',
      traceId: run.traceId,
    });
    expect(runEnded(ack.runId)).not.toHaveProperty('requestId');

    // Nothing secret and no conversation in any span or resource.
    const exported = exportedText();
    for (const secret of [user.accessToken, user.refreshToken, API_KEY, EXPORT_SECRET, secretText, aguiText])
      expect(exported).not.toContain(secret);
    expect(exported).not.toContain('limit=5');
    expect(exported).not.toContain('It is noon');
  });
});

const SDK = [
  '@opentelemetry/sdk-trace',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/core',
  '@opentelemetry/resources',
];

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('the server loads no OpenTelemetry SDK package (with the setting, it does)', async () => {
    const without = await packagesLoadedBy({});
    expect(without).toContain('fastify'); // the recorder works
    expect(SDK.filter((name) => without.has(name))).toEqual([]);
    const exportsBefore = receiver.bodies.length;
    const traced = await packagesLoadedBy({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    expect(SDK.filter((name) => traced.has(name))).toEqual(SDK);
    // Nothing happened in that server: it exported nothing either.
    expect(receiver.bodies.length).toBe(exportsBefore);
  }, 60_000);

  it('a malformed endpoint refuses to start, saying which setting and what is expected, without echoing it', async () => {
    const { loadConfig } = await import('../../src/config/index.js');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT="\[redacted\]" is invalid: expected http\(s\):\/\/host:port/,
    );
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pw@collector:4318' })).toThrow(
      /must not carry credentials/,
    );
    expect(() =>
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_HEADERS: 'no-equals' }),
    ).toThrow(/OTEL_EXPORTER_OTLP_HEADERS="\[redacted\]" is invalid/);
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc, x-tenant=a',
      }).otel,
    ).toEqual({
      endpoint: 'http://127.0.0.1:4318',
      headers: { authorization: 'Bearer abc', 'x-tenant': 'a' },
      serviceName: 'agentgate',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(loadConfig({}).otel).toBeUndefined();
  });
});
