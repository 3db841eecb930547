import { z, type ZodType } from 'zod';
import { ClientMessageSchema, ControlMessageSchema, RunEventSchema, ServerMessageSchema } from './schemas/index.js';

export type JsonSchema = { [key: string]: unknown };

/**
 * How every published schema is made from zod: draft 2020-12, the input side (what a sender may send: defaults make
 * a field optional; answers get no `additionalProperties: false`, so extra fields stay allowed), and without the
 * safe-integer bounds zod puts on every `int()`, which say nothing to a reader.
 */
export const JSON_SCHEMA_OPTIONS = {
  target: 'draft-2020-12',
  io: 'input',
  override: ({ jsonSchema }) => {
    if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
    if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
  },
} as const satisfies z.core.ToJSONSchemaParams;

/**
 * The WebSocket protocol as JSON Schema (draft 2020-12), generated from the zod schemas: one file per message and
 * event type, and one per union (any client message, any server message, any run event), by path under
 * docs/schemas/ (`npm run schemas` writes them; test/api fails when the committed files differ). Extra fields are
 * allowed, as everywhere in the protocol: no schema sets `additionalProperties: false`.
 */
export function webSocketJsonSchemas(): Record<string, JsonSchema> {
  const files: Record<string, JsonSchema> = {};
  const put = (path: string, schema: ZodType, title: string, description: string): void => {
    const { $schema, ...rest } = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS);
    files[`ws/${path}.schema.json`] = { $schema, title, description, ...rest };
  };
  put('client-message', ClientMessageSchema, 'ClientMessage', 'Any client → server message (docs/PROTOCOL.md).');
  put(
    'server-message',
    ServerMessageSchema,
    'ServerMessage',
    'Any server → client message: a control message or a run event (docs/PROTOCOL.md).',
  );
  put('run-event', RunEventSchema, 'RunEvent', 'Any run event, as sent on the socket and stored (docs/PROTOCOL.md).');
  for (const option of ClientMessageSchema.options) {
    const type = option.shape.type.value;
    put(`client/${type}`, option, type, `The client → server message \`${type}\`.`);
  }
  for (const option of ControlMessageSchema.options) {
    const type = option.shape.type.value;
    put(`server/${type}`, option, type, `The server → client control message \`${type}\`.`);
  }
  for (const option of RunEventSchema.options) {
    const type = option.shape.type.value;
    put(`events/${type}`, option, type, `The run event \`${type}\`.`);
  }
  return files;
}
