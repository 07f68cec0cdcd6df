// Sparklines (a few SVG polylines) and the three uPlot charts.
import { h, s } from './dom.js';

const W = 240;
const H = 36;

function points(values, max) {
  const n = values.length;
  if (n === 0) return '';
  return values.map((v, i) => `${((i / Math.max(1, n - 1)) * W).toFixed(1)},${(H - 2 - ((v || 0) / max) * (H - 4)).toFixed(1)}`).join(' ');
}

/** Completed (green, filled) and failed (red) per minute, 60 minutes. */
export function sparkline(completed, failed) {
  const max = Math.max(1, ...completed, ...failed);
  const svg = s('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'completed and failed per minute, last 60 minutes' });
  svg.append(s('line', { class: 'base', x1: 0, y1: H - 1, x2: W, y2: H - 1 }));
  const c = points(completed, max);
  if (c) {
    svg.append(s('polygon', { class: 'ca', points: `0,${H - 1} ${c} ${W},${H - 1}` }));
    svg.append(s('polyline', { class: 'c', points: c }));
  }
  if (failed.some((v) => v > 0)) svg.append(s('polyline', { class: 'f', points: points(failed, max) }));
  return svg;
}

const hhmm = (sec) => new Date(sec * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });

const DECADES = [1, 10, 100, 1000, 10000, 100000, 1000000];

const PALETTE = ['#3b6fe0', '#1f9d63', '#d6453d', '#c98209', '#8a4fd3', '#0f9bb0', '#d2559a', '#6b7686'];

/**
 * A uPlot chart that keeps its series set: created on first data, updated in
 * place (setData) while the series stay the same, rebuilt when they change.
 */
export class Chart {
  constructor(title, yLabel, format) {
    this.el = h('div', { class: 'chart' });
    this.panel = h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, title), h('span', { class: 'right muted small' }, yLabel)), this.el);
    this.format = format;
    this.plot = null;
    this.key = '';
  }

  /** `series`: [{ label, values, color? }], `xs`: epoch seconds. */
  update(xs, series) {
    if (typeof uPlot === 'undefined' || xs.length === 0) return;
    const key = series.map((x) => x.label).join('|');
    const data = [xs, ...series.map((x) => x.values)];
    if (this.plot && this.key === key) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.key = key;
    const width = Math.max(260, this.el.clientWidth || 360);
    const fmt = this.format;
    this.plot = new uPlot(
      {
        width,
        height: 170,
        cursor: { drag: { x: false, y: false } },
        legend: { live: false },
        // Run times of different task types differ by orders of magnitude: a log scale keeps them all readable.
        scales: { x: { time: true }, y: fmt.log ? { distr: 3, log: 10 } : { range: (u, min, max) => [0, Math.max(max, fmt.minMax ?? 1)] } },
        axes: [
          { stroke: '#6b7686', grid: { stroke: '#eef1f5' }, ticks: { stroke: '#e3e7ee' }, values: (u, vals) => vals.map(hhmm) },
          {
            stroke: '#6b7686',
            grid: { stroke: '#eef1f5' },
            ticks: { stroke: '#e3e7ee' },
            size: 56,
            // On the log scale, one tick per power of ten (uPlot would label every minor step).
            ...(fmt.log ? { splits: (u, i, min, max) => DECADES.filter((v) => v >= min && v <= max) } : {}),
            values: (u, vals) => vals.map((v) => fmt.axis(v)),
          },
        ],
        series: [
          { label: 'time' },
          ...series.map((x, i) => ({
            label: x.label,
            stroke: x.color ?? PALETTE[i % PALETTE.length],
            width: 1.75,
            fill: x.fill,
            spanGaps: false,
            points: { show: false },
            value: (u, v) => (v === null || v === undefined ? '—' : fmt.value(v)),
          })),
        ],
      },
      data,
      this.el,
    );
  }

  resize() {
    if (this.plot && this.el.clientWidth > 0) this.plot.setSize({ width: this.el.clientWidth, height: 170 });
  }
}

export const countFormat = { axis: (v) => String(Math.round(v)), value: (v) => String(v), minMax: 4 };
export const msFormat = {
  axis: (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`),
  value: (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`),
  minMax: 100,
  log: true,
};
export const pctFormat = { axis: (v) => `${Math.round(v)}%`, value: (v) => `${v.toFixed(1)}%`, minMax: 100 };
