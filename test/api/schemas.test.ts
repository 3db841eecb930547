import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_DIR, schemaFiles } from '../../src/http/openapi/index.js';
import { CONTROL_MESSAGE_FIELDS, RUN_EVENT_TYPES, type ServerMessage } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, type TestApp } from '../../src/testing/index.js';

const dir = fileURLToPath(new URL(`../../${SCHEMA_DIR}/`, import.meta.url));

function committedFiles(): Record<string, unknown> {
  const files: Record<string, unknown> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path).split(sep).join('/')] = JSON.parse(readFileSync(path, 'utf8'));
  }
  return files;
}

const schema = (path: string): object => JSON.parse(readFileSync(join(dir, path), 'utf8')) as object;

describe(`${SCHEMA_DIR}/`, () => {
  it('is exactly what `npm run schemas` generates from the zod schemas (run it after changing a schema)', () => {
    const generated = schemaFiles();
    const committed = committedFiles();
    expect(Object.keys(committed).sort()).toEqual(Object.keys(generated).sort());
    for (const [path, content] of Object.entries(generated)) expect(committed[path], path).toEqual(content);
  });

  it('has a schema for every message and event type of the wire vocabulary', () => {
    const files = Object.keys(schemaFiles());
    for (const type of Object.keys(CONTROL_MESSAGE_FIELDS)) expect(files).toContain(`ws/server/${type}.schema.json`);
    for (const type of RUN_EVENT_TYPES) expect(files).toContain(`ws/events/${type}.schema.json`);
    for (const type of ['user_message', 'cancel_run', 'resume', 'ping', 'authenticate', 'approve_tool'])
      expect(files).toContain(`ws/client/${type}.schema.json`);
  });
});

describe('messages of a live server against the published JSON Schemas', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('every message a session sends and receives is valid, and a wrong one is not', async () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    const serverMessage = ajv.compile(schema('ws/server-message.schema.json'));
    const clientMessage = ajv.compile(schema('ws/client-message.schema.json'));
    const runEvent = ajv.compile(schema('ws/run-event.schema.json'));
    const perType = (kind: string, type: string) => ajv.compile(schema(`ws/${kind}/${type}.schema.json`));

    const user = await registerUser(app.url, 'schemas');
    const ticket = await request<{ url: string }>(app.url, 'POST', '/ws/ticket', { token: user.accessToken });
    const ws = await TestSocket.open(ticket.body.url);
    const sent = [
      { type: 'user_message', id: 'm1', text: 'calculate 12*7', onBusy: 'enqueue' },
      { type: 'ping', id: 'p1' },
      { type: 'cancel_run', id: 'c1', runId: 'no-such-run' },
    ];
    ws.send(sent[0]);
    const { runId, threadId } = (await ws.next((m) => m.type === 'message_accepted')) as {
      runId: string;
      threadId: string;
    };
    await ws.runEvents(runId);
    ws.send(sent[1]);
    await ws.next((m) => m.type === 'pong');
    ws.send(sent[2]);
    await ws.next((m) => m.type === 'error');
    const resume = { type: 'resume', id: 'r1', runId, afterSeq: 0 };
    sent.push(resume);
    ws.send(resume);
    await ws.next((m) => m.type === 'resumed');
    const fresh = await registerUser(app.url, 'schemas');
    const authenticate = { type: 'authenticate', id: 'a1', token: fresh.accessToken };
    sent.push(authenticate);
    ws.send(authenticate); // another user's token: error invalid_token, then a close
    await ws.waitClose();

    const received: ServerMessage[] = ws.messages;
    const types = new Set(received.map((m) => m.type));
    for (const type of ['connection_established', 'message_accepted', 'message_added', 'pong', 'error', 'resumed'])
      expect(types).toContain(type);
    for (const type of ['agent_started', 'tool_executing', 'tool_completed', 'agent_completed'])
      expect(types).toContain(type);
    for (const message of received) {
      expect(serverMessage(message), `${JSON.stringify(message)}: ${JSON.stringify(serverMessage.errors)}`).toBe(true);
      const kind = 'seq' in message ? 'events' : 'server';
      const own = perType(kind, message.type);
      expect(own(message), `${message.type}: ${JSON.stringify(own.errors)}`).toBe(true);
      if (kind === 'events') expect(runEvent(message)).toBe(true);
    }
    for (const message of sent) {
      expect(clientMessage(message), `${JSON.stringify(message)}: ${JSON.stringify(clientMessage.errors)}`).toBe(true);
      expect(perType('client', message.type)(message)).toBe(true);
    }

    // The stored events are the same events: GET /runs/:id/events validates against the same schema.
    const stored = await request<{ events: unknown[] }>(app.url, 'GET', `/runs/${runId}/events`, {
      token: user.accessToken,
    });
    for (const event of stored.body.events) expect(runEvent(event)).toBe(true);

    // The schemas are not vacuous: a message the server would refuse, and one it never sends, are invalid.
    expect(clientMessage({ type: 'user_message', text: '' })).toBe(false);
    expect(clientMessage({ type: 'resume', runId })).toBe(false);
    expect(clientMessage({ type: 'subscribe', threadId })).toBe(false);
    expect(serverMessage({ type: 'agent_started', runId, threadId, seq: 0, ts: 'now' })).toBe(false);
    expect(serverMessage({ type: 'message_accepted', threadId })).toBe(false);
  });
});
