// Builds the web console (web/src) into web/dist with esbuild: one hashed JS bundle, one hashed
// CSS file, fonts and images as hashed files, and index.html naming them. Every file the browser
// needs is served by the node (no CDN). Run it with `npm run build:console`; `medledger up`,
// `medledger node start` and the browser tests call ensureConsoleBuilt(), which rebuilds only when
// an input changed, so a fresh clone needs no manual step.
//
// Platform files: a module `X.ts` with a sibling `X.browser.ts` is replaced by the latter in this
// build (codec/platform, sdk/http, sdk/signer): same exports, no Node APIs. Any import of a Node
// built-in that is still reachable fails the build naming the importer, so the SDK and the layers
// below it stay runnable in a browser.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { makeDirectory } from '../files/directory.ts';

// src/cli/ (or dist/cli/ when compiled) → the repository root.
export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_DIR = join(REPO_DIR, 'web');
export const CONSOLE_DIST_DIR = join(WEB_DIR, 'dist');
const BUILD_INFO = 'build-info.json';
/** Bump when this file's build options change, so older outputs are rebuilt. */
const BUILD_FORMAT = 3;

interface BuildInfo {
  readonly format: number;
  readonly inputs: readonly string[];
  readonly inputsHash: string;
  readonly builtAtMs: number;
}

const browserPlatform: Plugin = {
  name: 'medledger-browser-platform',
  setup(b) {
    b.onResolve({ filter: /^node:|^(fs|path|crypto|https?|net|tls|os|child_process|worker_threads|stream|url|zlib)$/ }, (args) => ({
      errors: [
        {
          text: `${args.path} is a Node.js module, imported by ${relative(REPO_DIR, args.importer)}: code the console bundles must not depend on Node (use a *.browser.ts sibling or move the import out of the browser's path)`,
        },
      ],
    }));
    b.onResolve({ filter: /\.ts$/ }, (args) => {
      if (!args.path.startsWith('.')) return undefined;
      const full = resolve(args.resolveDir, args.path);
      const browser = full.replace(/\.ts$/, '.browser.ts');
      return existsSync(browser) ? { path: browser } : { path: full };
    });
  },
};

function hashInputs(inputs: readonly string[]): string {
  const h = createHash('sha256');
  for (const input of [...inputs].sort()) {
    const path = join(REPO_DIR, input);
    h.update(input).update('\0');
    h.update(existsSync(path) ? readFileSync(path) : 'missing').update('\0');
  }
  return h.digest('hex');
}

function readBuildInfo(dist: string): BuildInfo | null {
  try {
    return JSON.parse(readFileSync(join(dist, BUILD_INFO), 'utf8')) as BuildInfo;
  } catch {
    return null;
  }
}

/** True when `dist` holds a build of exactly the current inputs. */
export function consoleIsFresh(dist = CONSOLE_DIST_DIR): boolean {
  const info = readBuildInfo(dist);
  return info !== null && info.format === BUILD_FORMAT && existsSync(join(dist, 'index.html')) && hashInputs(info.inputs) === info.inputsHash;
}

export interface ConsoleBuildResult {
  readonly dist: string;
  readonly files: readonly string[];
  readonly bytes: number;
  readonly built: boolean;
}

let buildsStarted = 0;

/** Build the console into `dist` (into a temporary folder first, then swapped in). */
export async function buildConsole(dist = CONSOLE_DIST_DIR): Promise<ConsoleBuildResult> {
  // Unique per call, not only per process and millisecond: two builds started together in one
  // process (the test of the race below does) would otherwise share, and delete, one folder.
  const tmp = `${dist}.tmp-${process.pid}-${Date.now()}-${++buildsStarted}`;
  rmSync(tmp, { recursive: true, force: true });
  makeDirectory(tmp);
  try {
    const result = await build({
      absWorkingDir: REPO_DIR,
      entryPoints: [join(WEB_DIR, 'src', 'main.tsx')],
      outdir: join(tmp, 'assets'),
      entryNames: '[name]-[hash]',
      assetNames: '[name]-[hash]',
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome110', 'firefox115', 'safari16'],
      conditions: ['browser'],
      jsx: 'automatic',
      minify: true,
      sourcemap: 'external',
      legalComments: 'linked',
      metafile: true,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
      loader: { '.woff2': 'file', '.woff': 'file', '.svg': 'file', '.png': 'file' },
      plugins: [browserPlatform],
    });
    const metafile: Metafile = result.metafile;
    const outputs = Object.keys(metafile.outputs).map((o) => relative(join(tmp, 'assets'), resolve(REPO_DIR, o)));
    const js = outputs.find((o) => /^main-[A-Z0-9]+\.js$/i.test(o));
    const css = outputs.find((o) => /^main-[A-Z0-9]+\.css$/i.test(o));
    if (!js || !css) throw new Error(`console build produced no main bundle (outputs: ${outputs.join(', ')})`);
    // The tab's icon, linked from the page (else every browser asks for /favicon.ico, gets a 404
    // and logs it as an error on every load), hashed like the other assets.
    const favicon = readFileSync(join(WEB_DIR, 'favicon.svg'));
    const faviconName = `favicon-${createHash('sha256').update(favicon).digest('hex').slice(0, 8).toUpperCase()}.svg`;
    writeFileSync(join(tmp, 'assets', faviconName), favicon);
    const template = readFileSync(join(WEB_DIR, 'index.html'), 'utf8');
    writeFileSync(
      join(tmp, 'index.html'),
      template.replace('__MAIN_JS__', `/assets/${js}`).replace('__MAIN_CSS__', `/assets/${css}`).replace('__FAVICON__', `/assets/${faviconName}`),
    );
    const inputs = [
      ...Object.keys(metafile.inputs).filter((i) => !i.includes('node_modules/')),
      relative(REPO_DIR, join(WEB_DIR, 'index.html')),
      relative(REPO_DIR, join(WEB_DIR, 'favicon.svg')),
      relative(REPO_DIR, fileURLToPath(import.meta.url)),
      'package-lock.json',
    ].sort();
    const info: BuildInfo = { format: BUILD_FORMAT, inputs, inputsHash: hashInputs(inputs), builtAtMs: Date.now() };
    writeFileSync(join(tmp, BUILD_INFO), JSON.stringify(info, null, 1));
    const files = [...outputs, faviconName];
    const bytes = Object.values(metafile.outputs).reduce((n, o) => n + o.bytes, favicon.byteLength);
    // Node processes started together (`medledger node start` in several shells, the fault suite)
    // may build at once: a build of the same sources that landed meanwhile is as good as ours —
    // keep it rather than delete what another node may be serving; lost the rename race, the same.
    const theirs = (): ConsoleBuildResult | null => {
      if (!consoleIsFresh(dist)) return null;
      rmSync(tmp, { recursive: true, force: true });
      return { dist, files, bytes, built: false };
    };
    const landed = theirs();
    if (landed) return landed;
    rmSync(dist, { recursive: true, force: true });
    try {
      renameSync(tmp, dist);
    } catch (err) {
      const raced = theirs();
      if (raced) return raced;
      throw err;
    }
    return { dist, files, bytes, built: true };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const errors = (err as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors;
    if (errors?.length)
      throw new Error(
        `console build failed:\n${errors
          .slice(0, 10)
          .map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`)
          .join('\n')}`,
      );
    throw err;
  }
}

/** Build the console unless `dist` already holds a build of the current sources. */
export async function ensureConsoleBuilt(dist = CONSOLE_DIST_DIR): Promise<ConsoleBuildResult> {
  if (consoleIsFresh(dist)) return { dist, files: [], bytes: 0, built: false };
  return buildConsole(dist);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  buildConsole().then(
    (r) =>
      console.log(
        `console built into ${relative(process.cwd(), r.dist)}: ${r.files.length} files, ${(r.bytes / 1024).toFixed(0)} KiB, ${Date.now() - started} ms`,
      ),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}
