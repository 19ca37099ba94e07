// Lint of src/, test/ and bench/: typescript-eslint's recommended rules (not type-aware, to stay
// fast), no import cycle, and the layers of docs/development.md "Layout". Run by `npm run lint`,
// itself run before `npm test` with no warning allowed.
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * The layer table of docs/development.md "Layout", lowest first. A folder under src/ imports only
 * from folders of lower layers (not from a sibling of its own layer), and never another folder's
 * repository. A new folder gets a row here and in that table.
 */
const LAYERS = [
  ['config', 'logging'],
  ['database', 'telemetry'],
  ['common'],
  ['organizations', 'flows', 'event-log'],
  ['flow-executions'],
  ['task-executions'],
  ['bulk-actions'], // below the feed, whose events carry its body
  ['feed', 'webhooks', 'retention', 'liveness', 'service-accounts'],
  ['health'], // and the files at the root of src/ (app.module.ts, main.ts, cli.ts, app.setup.ts): composition
];

const folders = readdirSync(new URL('./src', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const unplaced = folders.filter((folder) => !LAYERS.flat().includes(folder));
if (unplaced.length) {
  throw new Error(`eslint.config.mjs: src/${unplaced.join(', src/')} in no layer; add it to LAYERS here and to docs/development.md "Layout"`);
}

const layerZones = LAYERS.flatMap((layer, index) =>
  layer.map((folder) => {
    const higher = LAYERS.slice(index + 1).flat();
    const siblings = layer.filter((other) => other !== folder);
    return {
      target: `./src/${folder}/**`,
      from: [...[...higher, ...siblings].map((other) => `./src/${other}/**`), './src/*.ts'],
      message: `src/${folder}/ (layer ${index}) imports only from lower layers (docs/development.md "Layout").`,
    };
  }),
);
const repositoryZones = folders.map((folder) => ({
  target: `./src/${folder}/**`,
  from: folders.filter((other) => other !== folder).map((other) => `./src/${other}/**/*.repository.ts`),
  message: `src/${folder}/ calls another feature through its exported service, not its repository (docs/development.md "Layout").`,
}));

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'data/', 'bench/results/', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { 'import-x': importX },
    settings: {
      // Parse the imported .ts files too, or no-cycle sees no edge.
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `let x; const f = () => use(x); x = ...`: f may run before the assignment.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: [...layerZones, ...repositoryZones] }],
      // Unused arguments and destructured leftovers are named with a leading underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // On Node 20 and 22 an AsyncLocalStorage's first run turns on async hooks for every promise of
    // the process, for good: 6-10% more CPU per request (docs/benchmarks.md, "Idempotency without AsyncLocalStorage").
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        ...['node:async_hooks', 'async_hooks'].map((name) => ({
          name,
          importNames: ['AsyncLocalStorage', 'createHook'],
          message: 'Pass request state as an argument: AsyncLocalStorage costs every request of the process on Node 20 and 22.',
        })),
      ],
    },
  },
);
