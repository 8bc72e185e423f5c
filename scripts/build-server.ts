/**
 * `npm run build` runs this after the page: bundles the server (src/server.ts with
 * every production dependency) with esbuild into one file, dist/server.js, which with
 * dist/public is all the container image runs: there is no node_modules at run time.
 *
 * Why one bundle rather than a file per module: Node keeps every module's source text
 * in the heap (a CommonJS module imported from ESM, like the AWS SDK's, twice), and
 * the SDK's packages alone are megabytes of it. Measured at rest on Node 24 (see
 * docs/benchmarks.md, bench:idle): 28 MiB of heap with per-module files, 22 with the
 * bundle. Identifiers are not shortened, so stack traces stay readable; the source map
 * beside the bundle is used only when an operator sets NODE_OPTIONS=--enable-source-maps.
 *
 * The local stack is left out: src/server.ts imports it only when no AWS settings are
 * given, its emulators are development dependencies, and a deployed task always has
 * the settings. `node dist/server.js` without them says so and exits.
 *
 *   tsx scripts/build-server.ts          build dist/server.js
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist');
const entry = path.join(root, 'src', 'server.ts');

/** The dynamic `import('./local/stack.js')` of src/server.ts stays a dynamic import that finds nothing in dist/. */
const leaveOutLocalStack: Plugin = {
  name: 'leave-out-local-stack',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/local\/stack\.js$/ }, (args) =>
      args.importer === entry ? { path: args.path, external: true } : undefined,
    );
  },
};

export async function buildServer(): Promise<{ file: string; bytes: number }> {
  // dist/ holds the page (built just before) and the bundle; anything else is stale, such as
  // the file per module an older build emitted, and would ship in the image.
  for (const entry of await readdir(outDir).catch(() => [])) {
    if (entry !== 'public') await rm(path.join(outDir, entry), { recursive: true, force: true });
  }
  const outfile = path.join(outDir, 'server.js');
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile: true,
    // The CommonJS packages inside call require() for Node's own modules.
    banner: {
      js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);",
    },
    // ws loads these optional native add-ons inside try/catch and works without them.
    external: ['bufferutil', 'utf-8-validate'],
    plugins: [leaveOutLocalStack],
    logLevel: 'warning',
  });
  // dist/ runs on its own in the image: its own package.json makes server.js an ES module there.
  await writeFile(path.join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);
  const bytes = result.metafile.outputs[path.relative(root, outfile)]?.bytes ?? 0;
  return { file: outfile, bytes };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const server = await buildServer();
  process.stdout.write(
    `server built: ${path.relative(root, server.file)} (${(server.bytes / 2 ** 20).toFixed(1)} MiB) in ${Date.now() - started} ms\n`,
  );
}
