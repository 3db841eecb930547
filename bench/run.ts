/** npm run bench [-- <name>]: runs the named benchmark (default: every one). */
const benches: Record<string, () => Promise<unknown>> = {
  'golden-path': () => import('./golden-path.js'),
  abuse: () => import('./abuse.js'),
  scale: () => import('./scale.js'),
  resume: () => import('./resume.js'),
  sse: () => import('./sse.js'),
};
const name = process.argv.slice(2).find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
for (const [key, load] of Object.entries(benches)) if (name === undefined || name === key) await load();
if (name !== undefined && benches[name] === undefined) {
  console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
  process.exitCode = 2;
}
