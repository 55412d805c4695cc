// build.mjs — bundles the dashboard with esbuild and, for the lookout binary,
// writes it out as a C file of gzip-compressed assets (web/api_ui.h's table).
//
//   node build.mjs [--out DIR] [--c-out FILE] [--budget-kb N] [--zopfli PATH]
//
// --out writes index.html, ui/app-<hash>.{js,css} and ui/chunk-<hash>.js into DIR (for
// `lookout server --ui-dir DIR`); --c-out writes the C table. Either way the
// gzipped total is printed and the build fails when it exceeds the budget
// (150 KiB unless told), so the size limit holds for every build. The
// licences of the bundled packages go to ui/licenses.txt (served, not
// loaded by the pages, so not counted).
//
// esbuild bundles and minifies; terser then compresses the JavaScript once
// more (about 5% smaller gzipped, which the budget needs). The assets are
// gzipped by zopfli (same format, ~5% smaller than zlib's best; the
// binary serves these bytes as they are). codemirror-promql's function
// documentation (the `info` text of its completion terms, ~1.4 KiB gzipped)
// is left out: completion still offers every function with its signature.
import { build } from 'esbuild';
import { minify } from 'terser';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { out: null, cOut: null, budgetKB: 150, zopfli: 'zopfli' };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--out') args.out = v;
    else if (argv[i] === '--c-out') args.cOut = v;
    else if (argv[i] === '--budget-kb') args.budgetKB = Number(v);
    else if (argv[i] === '--zopfli') args.zopfli = v;
    else throw new Error(`build.mjs: unknown argument ${argv[i]}`);
    i++;
  }
  if (!args.out && !args.cOut) throw new Error('build.mjs: give --out DIR and/or --c-out FILE');
  return args;
}

const hash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 16);

// codemirror-promql's completion terms without their `info` documentation.
const noTermDocs = {
  name: 'no-term-docs',
  setup(b) {
    b.onLoad({ filter: /codemirror-promql\/dist\/esm\/complete\/promql\.terms\.js$/ }, (a) => ({
      contents: readFileSync(a.path, 'utf8').replace(/\n\s*info: '(?:[^'\\]|\\.)*',/g, ''),
      loader: 'js',
    }));
  },
};

// The query pages (Explore, Logs: CodeMirror and the PromQL and LogQL
// parsers, about two thirds of the code) are imported on demand, so esbuild
// splits the bundle: the entry (app-<hash>.js, what the Overview needs),
// the code it shares with them (chunk-<hash>.js) and the query pages'
// chunk, loaded on first use. All CSS is imported by the entry's modules:
// one stylesheet. Returns {entry, css, chunks: [{name, data}], licenses}.
async function bundle() {
  const r = await build({
    entryPoints: [join(here, 'src/main.js')],
    bundle: true,
    splitting: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    write: false,
    outdir: join(here, 'out'),
    entryNames: 'app-[hash]',
    chunkNames: 'chunk-[hash]',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [noTermDocs],
  });
  const out = { entry: null, css: null, chunks: [], licenses: Buffer.from(licenses(r.metafile)) };
  const css = [];
  for (const f of r.outputFiles) {
    const name = basename(f.path);
    if (name.endsWith('.css')) {
      css.push({ name, text: f.text });
      continue;
    }
    const min = await minify(f.text, {
      module: true, ecma: 2020, compress: { passes: 2 }, mangle: { toplevel: true }, format: { comments: false },
    });
    const data = Buffer.from(min.code);
    if (name.startsWith('app-')) out.entry = { name, data };
    else out.chunks.push({ name, data });
  }
  // esbuild also writes the CSS a shared chunk imports on its own; the
  // entry's stylesheet holds it already
  const app = css.find((c) => c.name.startsWith('app-'));
  for (const c of css) if (!app.text.includes(c.text.trim())) throw new Error(`build.mjs: ${c.name} is not in the entry's stylesheet`);
  out.css = Buffer.from(app.text);
  return out;
}

// The licence text of every npm package with code in the bundle.
function licenses(meta) {
  const pkgs = new Set();
  for (const input of Object.keys(meta.inputs)) {
    const m = /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) pkgs.add(m[1]);
  }
  const parts = ['Lookout\'s dashboard bundles these packages from npm:\n'];
  for (const p of [...pkgs].sort()) {
    const dir = join(here, 'node_modules', p);
    const { version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license'].map((f) => join(dir, f)).find(existsSync);
    parts.push(`==== ${p} ${version} (${license})\n${file ? readFileSync(file, 'utf8').trim() : ''}\n`);
  }
  return parts.join('\n');
}

// [{path, type, immutable, data}]: index.html names the entry and the
// stylesheet; every script's name carries esbuild's hash of its content.
function assetsOf(b) {
  const js = `/ui/${b.entry.name}`, css = `/ui/app-${hash(b.css)}.css`;
  const html = readFileSync(join(here, 'src/index.html'), 'utf8')
    .replace('%APP_JS%', js.slice(1))
    .replace('%APP_CSS%', css.slice(1));
  const script = (path, data) => ({ path, type: 'text/javascript; charset=utf-8', immutable: true, data });
  return [
    { path: '/index.html', type: 'text/html; charset=utf-8', immutable: false, data: Buffer.from(html) },
    script(js, b.entry.data),
    ...b.chunks.map((c) => script(`/ui/${c.name}`, c.data)),
    { path: css, type: 'text/css; charset=utf-8', immutable: true, data: b.css },
    { path: '/ui/licenses.txt', type: 'text/plain; charset=utf-8', immutable: false, data: b.licenses, uncounted: true },
  ];
}

function cTable(assets) {
  const lines = ['/* Generated by web/ui/build.mjs: the dashboard, gzip-compressed. */',
    '#include "web/api_ui.h"', ''];
  assets.forEach((a, i) => {
    const hex = [...a.gz].map((b) => `0x${b.toString(16).padStart(2, '0')}`);
    lines.push(`static const uint8_t asset${i}[] = {`);
    for (let k = 0; k < hex.length; k += 16) lines.push(`  ${hex.slice(k, k + 16).join(',')},`);
    lines.push('};');
  });
  lines.push('', 'const web_ui_asset web__ui_assets[] = {');
  assets.forEach((a, i) => {
    lines.push(`  {"${a.path}", "${a.type}", "W/\\"${hash(a.data)}\\"", ${a.immutable}, asset${i}, ${a.gz.length}, ${a.data.length}},`);
  });
  lines.push('};', `const size_t web__ui_nassets = ${assets.length};`, '');
  return lines.join('\n');
}

const args = parseArgs(process.argv.slice(2));
const assets = assetsOf(await bundle());
let total = 0;
// zopfli reads files only: each asset goes through a temporary one.
function gzip(data) {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-ui-'));
  try {
    writeFileSync(join(dir, 'a'), data);
    return execFileSync(args.zopfli, ['-c', join(dir, 'a')], { maxBuffer: 64 << 20 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const a of assets) {
  a.gz = gzip(a.data);
  if (!a.uncounted) total += a.gz.length;
}
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const summary = assets.map((a) => `${a.path} ${kib(a.gz.length)}`).join(', ');
console.log(`dashboard: ${kib(total)} gzipped (budget ${args.budgetKB} KiB; licences not counted): ${summary}`);
if (total > args.budgetKB * 1024) {
  console.error(`build.mjs: the dashboard is ${kib(total)} gzipped, over the ${args.budgetKB} KiB budget`);
  process.exit(1);
}
if (args.out) {
  for (const a of assets) {
    mkdirSync(dirname(join(args.out, a.path)), { recursive: true });
    writeFileSync(join(args.out, a.path), a.data);
  }
}
if (args.cOut) writeFileSync(args.cOut, cTable(assets));
