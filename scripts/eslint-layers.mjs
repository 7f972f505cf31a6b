// ESLint rule `medledger/layers`: folders under src/ are layers, and imports point down only.
//
// Each folder has a rank (the table in eslint.config.js, drawn in docs/ARCHITECTURE.md). Code in a
// folder may import its own folder and folders of a strictly lower rank — never a folder of the
// same or a higher rank, so no cycle between folders can form. Test code (`*.test.ts`, anything
// with `testkit` in its name, `testdata/` folders, `src/testing/`, `web/test/`) may import anything,
// and production code may not import test code: test helpers stay out of the build.
// The console (web/src) sits above every src/ layer and may import any of them but test code.
import { dirname, relative, resolve, sep } from 'node:path';

/** The console (web/src): above every layer of src/. */
const CONSOLE = '(console)';
const TEST_FILE = /(\.test\.tsx?$)|testkit|(^|\/)testdata\//;

function isTestPath(repoRelative) {
  return TEST_FILE.test(repoRelative) || repoRelative.startsWith('src/testing/') || repoRelative.startsWith('web/test/');
}

/** 'src/<folder>/…' → folder; 'web/src/…' → 'web'; anything else → null (not governed). */
function folderOf(repoRelative) {
  const parts = repoRelative.split('/');
  if (parts[0] === 'src' && parts.length >= 3) return parts[1];
  if (parts[0] === 'web' && parts[1] === 'src') return CONSOLE;
  return null;
}

/** @type {import('eslint').Rule.RuleModule} */
export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'folders are layers: imports point to lower layers only; production code never imports test helpers' },
    schema: [
      {
        type: 'object',
        properties: {
          root: { type: 'string' },
          layers: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
        },
        required: ['layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      upward:
        '{{from}}/ (layer {{fromRank}}: {{fromLayer}}) must not import {{to}}/ (layer {{toRank}}: {{toLayer}}): imports point down only. Move the shared piece to a lower layer, or the importing code up.',
      unknownFolder: 'src/{{folder}}/ has no layer: add it to the layers table in eslint.config.js (and the picture in docs/ARCHITECTURE.md)',
      testHelper: 'production code must not import test code ({{target}}): test helpers stay out of the build',
    },
  },
  create(context) {
    const options = context.options[0] ?? {};
    const root = options.root ?? context.cwd;
    const rank = new Map();
    options.layers.forEach((names, i) => names.forEach((n) => rank.set(n, i)));
    const filename = relative(root, context.filename).split(sep).join('/');
    const fromFolder = folderOf(filename);
    if (fromFolder === null || isTestPath(filename)) return {};
    const fromRank = fromFolder === CONSOLE ? Number.POSITIVE_INFINITY : rank.get(fromFolder);
    const layerOf = (r) => options.layers[r]?.join(', ') ?? 'the console';

    function check(node, source) {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = relative(root, resolve(dirname(context.filename), source))
        .split(sep)
        .join('/');
      if (isTestPath(target)) {
        context.report({ node, messageId: 'testHelper', data: { target } });
        return;
      }
      const toFolder = folderOf(target);
      if (toFolder === null || toFolder === fromFolder) return;
      if (fromRank === undefined) {
        context.report({ node, messageId: 'unknownFolder', data: { folder: fromFolder } });
        return;
      }
      const toRank = toFolder === CONSOLE ? Number.POSITIVE_INFINITY : rank.get(toFolder);
      if (toRank === undefined) {
        context.report({ node, messageId: 'unknownFolder', data: { folder: toFolder } });
        return;
      }
      if (toRank >= fromRank) {
        context.report({
          node,
          messageId: 'upward',
          data: { from: fromFolder, fromRank: String(fromRank), fromLayer: layerOf(fromRank), to: toFolder, toRank: String(toRank), toLayer: layerOf(toRank) },
        });
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { rules: { layers: layersRule } };
