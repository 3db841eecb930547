// Writes docs/schemas/: the OpenAPI document and the WebSocket JSON Schemas, generated from the zod schemas
// (npm run schemas). test/api/schemas-drift.test.ts fails when the committed files differ from what this writes.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { SCHEMA_DIR, schemaFiles } from '../src/http/openapi/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, SCHEMA_DIR);
const files = schemaFiles();

// Files of a message type that no longer exists go too.
for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
  const path = join(entry.parentPath, entry.name);
  if (entry.isFile() && entry.name.endsWith('.json') && !(path.slice(dir.length + 1) in files)) await rm(path);
}
for (const [path, content] of Object.entries(files)) {
  const target = join(dir, path);
  await mkdir(dirname(target), { recursive: true });
  const options = { ...(await resolveConfig(target)), filepath: target };
  await writeFile(target, await format(JSON.stringify(content), options));
}
console.log(`wrote ${Object.keys(files).length} files to ${SCHEMA_DIR}/`);
