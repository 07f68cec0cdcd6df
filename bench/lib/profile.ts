/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per
 * function and per module, so "where the time goes" is read from data.
 * Usable alone: `npx tsx bench/lib/profile.ts <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  name: string;
  ms: number;
  /** Share of all sampled time, idle included. */
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  idlePct: number;
  functions: Hotspot[];
  modules: Hotspot[];
}

/** A module label for a script URL: `pkg` for node_modules, `node:x` for core, the repo path for ours. */
export function moduleOf(url: string, fn: string): string {
  if (url === '') {
    if (fn === '(garbage collector)' || fn === '(idle)' || fn === '(program)') return fn;
    return '(native)';
  }
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/(src|tasks|bench)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url.replace(/^file:\/\//, '');
}

export function summariseProfile(p: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const { functionName, url, lineNumber } = n.callFrame;
    const mod = moduleOf(url, functionName);
    if (functionName === '(idle)') idle += us;
    const fnKey = `${functionName || '(anonymous)'} ${mod}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(fnKey, (fns.get(fnKey) ?? 0) + us);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): Hotspot[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: Math.round((us / Math.max(1, total)) * 1000) / 10 }));
  return { totalMs: Math.round(total / 1000), idlePct: Math.round((idle / Math.max(1, total)) * 1000) / 10, functions: rank(fns), modules: rank(mods) };
}

export function summariseProfileFile(file: string, top = 15): ProfileSummary {
  return summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/lib/profile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  const s = summariseProfileFile(file, Number(process.argv[3] ?? 20));
  console.log(`total ${s.totalMs} ms sampled, idle ${s.idlePct}%`);
  console.log('\nby module (self time):');
  for (const h of s.modules) console.log(`  ${String(h.pct).padStart(5)}%  ${String(h.ms).padStart(6)} ms  ${h.name}`);
  console.log('\nby function (self time):');
  for (const h of s.functions) console.log(`  ${String(h.pct).padStart(5)}%  ${String(h.ms).padStart(6)} ms  ${h.name}`);
}
