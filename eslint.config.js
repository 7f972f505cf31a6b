// Lint rules: typescript-eslint's recommended type-aware set, plus a few that keep the
// consensus and contract layers honest (no stray `any`, no floating promises), and the layer rule
// (scripts/eslint-layers.mjs): imports point down only, test helpers stay out of production code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { readFileSync } from 'node:fs';
import layers from './scripts/eslint-layers.mjs';

// The layers, lowest first (scripts/layers.json; docs/ARCHITECTURE.md draws the same table). A
// folder imports only its own and lower layers; the console (web/src) sits on top of all of them.
const LAYERS = JSON.parse(readFileSync(new URL('./scripts/layers.json', import.meta.url), 'utf8')).layers;

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', '.medledger/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts', 'web/src/**/*.ts', 'web/src/**/*.tsx'],
    plugins: { medledger: layers },
    rules: { 'medledger/layers': ['error', { root: import.meta.dirname, layers: LAYERS }] },
  },
  {
    // Node 20's recursive mkdir never returns under /proc: production code makes directories with
    // files/directory.ts's makeDirectory (decision 1702). Tests may, on their own temp folders.
    files: ['src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*testkit*', 'src/testing/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.name=/^mkdir(Sync)?$/] > ObjectExpression > Property[key.name='recursive']",
          message: 'use makeDirectory (src/files/directory.ts): a recursive mkdir never returns under /proc (decision 1702)',
        },
        {
          selector: "CallExpression[callee.property.name=/^mkdir(Sync)?$/] > ObjectExpression > Property[key.name='recursive']",
          message: 'use makeDirectory (src/files/directory.ts): a recursive mkdir never returns under /proc (decision 1702)',
        },
      ],
    },
  },
  {
    // node:test's describe/it return promises the runner itself awaits.
    files: ['**/*.test.ts', 'web/test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
);
