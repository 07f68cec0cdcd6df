/**
 * The dashboard's static files: the hand-written client (src/dashboard/public)
 * and uPlot from node_modules, served from our own origin (no CDN: the CSP
 * allows 'self' only). A fixed allow-list, read once, kept in memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
}

const CLIENT_FILES = ['main.js', 'dom.js', 'charts.js', 'overview.js', 'task.js', 'deliveries.js', 'dashboard.css'] as const;
const UPLOT_FILES = { 'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js', 'uPlot.min.css': 'uplot/dist/uPlot.min.css' } as const;

function typeOf(name: string): string {
  return name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
}

/**
 * The client's directory: beside this module when running from source; from
 * a build (dist/src/dashboard) the package's src/dashboard/public, which the
 * package ships too.
 */
function publicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'src', 'dashboard', 'public')];
  return candidates.find((d) => existsSync(join(d, 'main.js'))) ?? (candidates[0] as string);
}

/** Loads lazily on first use (no file I/O at import time) and then serves from memory. */
export function createAssets(): (name: string) => Asset | null {
  let cache: Map<string, Asset> | null = null;
  const load = (): Map<string, Asset> => {
    const map = new Map<string, Asset>();
    const dir = publicDir();
    for (const name of CLIENT_FILES) map.set(name, { body: readFileSync(join(dir, name)), type: typeOf(name) });
    const require = createRequire(import.meta.url);
    for (const [name, spec] of Object.entries(UPLOT_FILES)) map.set(name, { body: readFileSync(require.resolve(spec)), type: typeOf(name) });
    return map;
  };
  return (name) => {
    cache ??= load();
    return cache.get(name) ?? null;
  };
}
