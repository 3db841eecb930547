// Type-aware lint: the rules the compiler cannot hold (floating promises, type-only imports, import cycles).
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The layering the folder tree promises (docs/ARCHITECTURE.md), held by the linter: which folder may import what.
const VENDOR_CLIENTS = { pg: 'storage/postgres', ioredis: 'storage/redis', 'better-sqlite3': 'storage/sqlite' };
const BACKENDS = {
  group: ['**/storage', '**/storage/**'],
  message: 'Only app/ (the composition root) builds backends: depend on the port your domain declares.',
};
const APP = { group: ['**/app', '**/app/**'], message: 'app/ is the composition root: nothing below it imports it.' };
const vendorsExcept = (allowed) =>
  Object.entries(VENDOR_CLIENTS)
    .filter(([name]) => name !== allowed)
    .map(([name, home]) => ({ group: [name, `${name}/*`], message: `${name} is imported only in src/${home}/.` }));
const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

function layering() {
  return [
    {
      // The domains: they declare ports and never reach the backends or the root that wires them.
      files: ['src/**/*.ts'],
      ignores: ['src/app/**', 'src/storage/**', 'src/testing/**', 'src/cli/**', 'src/main.ts', 'src/client/**'],
      rules: restrict([BACKENDS, APP, ...vendorsExcept()]),
    },
    { files: ['src/cli/**/*.ts'], rules: restrict([BACKENDS, ...vendorsExcept()]) },
    { files: ['src/app/**/*.ts'], rules: restrict(vendorsExcept()) },
    {
      files: ['src/storage/**/*.ts'],
      ignores: Object.values(VENDOR_CLIENTS).map((home) => `src/${home}/**`),
      rules: restrict([APP, ...vendorsExcept()]),
    },
    ...Object.entries(VENDOR_CLIENTS).map(([name, home]) => ({
      files: [`src/${home}/**/*.ts`],
      rules: restrict([APP, ...vendorsExcept(name)]),
    })),
    {
      // The SDK runs in browsers: the wire vocabulary only, never the server's protocol module (zod) or a domain.
      files: ['src/client/**/*.ts'],
      rules: restrict([
        { group: ['../*', '!../protocol'], message: 'The SDK imports nothing of the server but src/protocol/wire.' },
        { group: ['../protocol/*', '!../protocol/wire'], message: 'The SDK imports src/protocol/wire only (no zod).' },
        { group: ['zod', 'zod/*'], message: 'No schema library in the SDK: use the wire vocabulary.' },
      ]),
    },
    {
      files: ['web/src/**/*.{ts,tsx}'],
      rules: restrict([
        {
          group: ['../../src/*', '!../../src/client', '!../../src/protocol'],
          message: 'The page imports the SDK and the wire vocabulary only.',
        },
        {
          group: ['../../src/protocol/*', '!../../src/protocol/wire'],
          message: 'The page imports src/protocol/wire only.',
        },
        { group: ['zod', 'zod/*'], message: 'No schema library in the page: use the wire vocabulary.' },
      ]),
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  { files: ['scripts/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // scripts/prepare.mjs is plain JavaScript: npm runs it before any compiler is installed.
      parserOptions: {
        projectService: { allowDefaultProject: ['scripts/*.mjs', 'test/fixtures/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // Port implementations are async by contract even when the memory backend has nothing to await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  ...layering(),
  {
    // expect.any() and friends are typed `any` by vitest.
    files: ['test/**/*.ts', 'src/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
