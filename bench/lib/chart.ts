/**
 * The bench chart: an SVG drawn from the results JSON with plain string
 * building (no chart library). Two panels of horizontal bars with min–max
 * whiskers: throughput (linear) and latency percentiles (log scale).
 */
import type { Aggregate } from './stats.js';
import type { BenchResults } from './results.js';

interface Bar {
  label: string;
  value: Aggregate;
  colour: string;
}

const W = 860;
const LABEL_W = 280;
const BAR_H = 16;
const GAP = 6;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function num(x: number): string {
  if (x === Number.POSITIVE_INFINITY) return '∞';
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}

/** One panel; returns its SVG and height. `log` uses a log10 axis from 1. */
function panel(title: string, unit: string, bars: Bar[], y0: number, log: boolean, marks: { at: number; label: string }[] = []): { svg: string; height: number } {
  const plotW = W - LABEL_W - 90;
  const finite = bars.flatMap((b) => [b.value.max, b.value.median]).filter((v) => Number.isFinite(v) && v > 0);
  const top = Math.max(1, ...finite, ...marks.map((m) => m.at));
  const maxV = log ? 10 ** Math.ceil(Math.log10(top)) : top * 1.05;
  const x = (v: number): number => {
    if (v === Number.POSITIVE_INFINITY) return LABEL_W + plotW;
    if (!Number.isFinite(v) || v <= 0) return LABEL_W;
    const f = log ? Math.log10(Math.max(1, v)) / Math.log10(maxV) : v / maxV;
    return LABEL_W + Math.min(1, f) * plotW;
  };
  const out: string[] = [`<text x="10" y="${y0 + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  // Room for the target labels between the title and the first bar.
  const head = marks.length > 0 ? 42 : 28;
  const top0 = y0 + head;
  const height = head + bars.length * (BAR_H + GAP) + 30;
  const axisY = top0 + bars.length * (BAR_H + GAP);
  // Grid: decades for log, quarters for linear.
  const ticks = log ? Array.from({ length: Math.round(Math.log10(maxV)) + 1 }, (_, i) => 10 ** i) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxV);
  for (const t of ticks) {
    out.push(`<line x1="${x(t) || LABEL_W}" y1="${top0 - 4}" x2="${x(t) || LABEL_W}" y2="${axisY}" stroke="#ddd"/>`);
    out.push(`<text x="${x(t) || LABEL_W}" y="${axisY + 14}" font-size="10" text-anchor="middle" fill="#555">${num(t)}</text>`);
  }
  out.push(`<text x="${LABEL_W + plotW}" y="${axisY + 26}" font-size="10" text-anchor="end" fill="#555">${esc(unit)}${log ? ' (log scale)' : ''}</text>`);
  for (const m of marks) {
    out.push(`<line x1="${x(m.at)}" y1="${top0 - 8}" x2="${x(m.at)}" y2="${axisY}" stroke="#c00" stroke-dasharray="4,3"/>`);
    out.push(`<text x="${x(m.at) + 3}" y="${top0 - 10}" font-size="10" fill="#c00">${esc(m.label)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top0 + i * (BAR_H + GAP);
    out.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H - 4}" font-size="12" text-anchor="end">${esc(b.label)}</text>`);
    out.push(`<rect x="${LABEL_W}" y="${y}" width="${Math.max(0, x(b.value.median) - LABEL_W)}" height="${BAR_H}" fill="${b.colour}"/>`);
    if (b.value.runs.length > 1 && Number.isFinite(b.value.min)) {
      const cy = y + BAR_H / 2;
      out.push(`<line x1="${x(b.value.min)}" y1="${cy}" x2="${x(b.value.max)}" y2="${cy}" stroke="#000"/>`);
      out.push(`<line x1="${x(b.value.min)}" y1="${cy - 4}" x2="${x(b.value.min)}" y2="${cy + 4}" stroke="#000"/>`);
      out.push(`<line x1="${x(b.value.max)}" y1="${cy - 4}" x2="${x(b.value.max)}" y2="${cy + 4}" stroke="#000"/>`);
    }
    out.push(`<text x="${Math.max(x(b.value.median), Number.isFinite(b.value.max) ? x(b.value.max) : 0) + 6}" y="${y + BAR_H - 4}" font-size="11">${num(b.value.median)}</text>`);
  });
  return { svg: out.join('\n'), height };
}

export function renderChart(r: BenchResults): string {
  const tp: Bar[] = [
    { label: 'raw bee-queue, no-op jobs/s', value: r.baseline.jobsPerSec, colour: '#999' },
    { label: 'callback ceiling (undici → receiver) req/s', value: r.ceiling.reqPerSec, colour: '#999' },
    { label: 'e2e tasks accepted/s (AOF off)', value: r.raw.acceptedPerSec, colour: '#4a7fc1' },
    { label: 'e2e callbacks/s (AOF off)', value: r.raw.callbacksPerSec, colour: '#2b5c9e' },
    { label: 'e2e callbacks/s (AOF everysec)', value: r.durable.callbacksPerSec, colour: '#2b8e5c' },
    { label: 'healthy receiver, all healthy, cb/s', value: r.isolation.allHealthyPerSec, colour: '#c18a4a' },
    { label: 'healthy receiver, other hangs, cb/s', value: r.isolation.oneHangingPerSec, colour: '#9e5c2b' },
  ];
  const lat: Bar[] = [];
  for (const [name, agg, colour] of [['AOF off', r.raw, '#2b5c9e'], ['AOF', r.durable, '#2b8e5c']] as const) {
    for (const l of agg.latency) {
      lat.push({ label: `${l.rate}/s ${name}: p50`, value: l.submitToCallback.p50, colour });
      lat.push({ label: `${l.rate}/s ${name}: p99`, value: l.submitToCallback.p99, colour });
    }
  }
  const a = panel('Throughput (median of runs; whiskers: min–max)', 'per second', tp, 0, false);
  const b = panel('Latency, submit → callback received (paced open loop)', 'ms', lat, a.height, true, [
    { at: 30, label: '30 ms' },
    { at: 100, label: '100 ms' },
  ]);
  const h = a.height + b.height + 20;
  const foot = `<text x="10" y="${h - 6}" font-size="10" fill="#555">${esc(`${r.date.slice(0, 10)} · ${r.machine.cpus} × ${r.machine.cpuModel} · node ${r.machine.node} · redis ${r.machine.redis} · ${r.runs} run(s)`)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${a.svg}\n${b.svg}\n${foot}\n</svg>\n`;
}
