/**
 * `npm run build` and `npm start` run this: bundles the chat page (src/web) with
 * esbuild into dist/public, the script and the stylesheet under content-hashed
 * names (served with long-lived immutable caching), and writes index.html naming
 * them (served with no-cache, so a deploy reaches every tab on its next load).
 *
 *   tsx scripts/build-page.ts            build into dist/public
 *   buildPage(outDir)                    the same, for tests that serve the page
 */
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src', 'web');
export const defaultPageDir = path.join(root, 'dist', 'public');

export interface BuiltPage {
  dir: string;
  script: string;
  stylesheet: string;
}

export async function buildPage(outDir: string = defaultPageDir): Promise<BuiltPage> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: [path.join(source, 'app.ts'), path.join(source, 'styles.css')],
    outdir: outDir,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs);
  const named = (suffix: string) => {
    const found = outputs.find(([file, output]) => file.endsWith(suffix) && output.entryPoint !== undefined);
    if (!found) throw new Error(`the page build produced no ${suffix} file`);
    return path.basename(found[0]);
  };
  const script = named('.js');
  const stylesheet = named('.css');

  const template = await readFile(path.join(source, 'index.html'), 'utf8');
  const html = template.replace('src="app.js"', `src="${script}"`).replace('href="styles.css"', `href="${stylesheet}"`);
  if (!html.includes(script) || !html.includes(stylesheet)) throw new Error('src/web/index.html must load app.js and styles.css');
  await copyFile(path.join(source, 'favicon.svg'), path.join(outDir, 'favicon.svg'));
  // index.html last, in one step: a server reading the folder never sees it name files not yet written.
  const temporary = path.join(outDir, '.index.html.tmp');
  await writeFile(temporary, html);
  await rename(temporary, path.join(outDir, 'index.html'));
  return { dir: outDir, script, stylesheet };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const page = await buildPage();
  process.stdout.write(`page built: ${path.relative(root, page.dir)}/{${page.script},${page.stylesheet}} in ${Date.now() - started} ms\n`);
}
