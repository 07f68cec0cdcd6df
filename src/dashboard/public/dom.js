// DOM and fetch helpers. Every value from the server reaches the page through
// text nodes (textContent), never through HTML parsing: task data, metadata
// and error messages are user input.

/** Element builder: h('td', { class: 'num', title: 't' }, 'text', childNode). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'data') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k === 'width') el.style.width = v;
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** SVG element builder (attributes only; no text from the server goes here). */
export function s(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs ?? {})) el.setAttribute(k, String(v));
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const readonly = () => document.body.dataset.readonly === 'true';
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

async function problem(res) {
  try {
    const p = await res.json();
    return p.detail || p.title || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

/** GET a dashboard JSON endpoint; a lost session goes back to the login form. */
export async function getJSON(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) {
    location.assign('/dashboard/login');
    throw new Error('signed out');
  }
  if (!res.ok) throw Object.assign(new Error(await problem(res)), { status: res.status });
  return res.json();
}

/** POST an action with the session's CSRF token. */
export async function postJSON(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf(), accept: 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  if (!res.ok) throw Object.assign(new Error(await problem(res)), { status: res.status });
  return res.json();
}

let toastTimer;
export function toast(message, bad = false) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast show${bad ? ' bad' : ''}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, 3500);
}

/** A button that runs an action once at a time and reports the outcome. */
export function actionButton(label, cls, run, done) {
  if (readonly()) return null;
  const btn = h('button', { class: `btn ${cls}`, type: 'button', 'data-action': label.toLowerCase() }, label);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const r = await run();
      toast(`${label}: done`);
      await done?.(r);
    } catch (err) {
      toast(`${label}: ${err.message}`, true);
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}

export const badge = (state) => h('span', { class: `badge ${state}` }, state);

export function progressBar(pct) {
  const p = Math.max(0, Math.min(100, Number(pct) || 0));
  return h('div', { class: 'progress', title: `${p}%` }, h('span', { width: `${p}%` }));
}

/** 850ms, 12s, 4m05s, 3h12m, 2d04h. */
export function age(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const sec = Math.floor(ms / 1000);
  if (sec < 60) return `${sec}s`;
  const pad = (n) => String(n).padStart(2, '0');
  if (sec < 3600) return `${Math.floor(sec / 60)}m${pad(sec % 60)}s`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h${pad(Math.floor((sec % 3600) / 60))}m`;
  return `${Math.floor(sec / 86400)}d${pad(Math.floor((sec % 86400) / 3600))}h`;
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleTimeString([], { hour12: false });
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : `${d.toLocaleDateString()} ${d.toLocaleTimeString([], { hour12: false })}`;
}

export function since(iso) {
  return iso ? age(Date.now() - Date.parse(iso)) : '—';
}

export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url || '—';
  }
}

export const taskLink = (id) => h('a', { class: 'mono', href: `#/tasks/${encodeURIComponent(id)}` }, id);
