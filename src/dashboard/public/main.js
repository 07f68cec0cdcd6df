// The dashboard client: hash routes (#/, #/tasks/{id}, #/deliveries), the
// header status, and a refresh every few seconds through the JSON endpoints.
import { age, fill, getJSON, h, toast } from './dom.js';
import { overviewView } from './overview.js';
import { taskView } from './task.js';
import { deliveriesView } from './deliveries.js';

const REFRESH_MS = 3000;
const root = document.getElementById('view');
let current = null;
let route = '';
let timer = null;
let busy = false;

function setPill(id, text, cls) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  if (cls !== undefined) el.className = `pill ${cls}`;
}

function header(ov) {
  setPill('st-redis', ov.redis.ok ? `Redis ok · ${ov.redis.latency_ms} ms` : 'Redis down', ov.redis.ok ? 'ok' : 'bad');
  setPill('st-version', `v${ov.version}`);
  setPill('st-uptime', `API up ${age(ov.uptime_s * 1000)}`);
  setPill('st-refresh', `refreshed ${new Date().toLocaleTimeString([], { hour12: false })}`);
}

function viewFor(hash) {
  const m = /^#\/tasks\/([0-9a-fA-F-]{36})$/.exec(hash);
  if (m) return { name: 'task', make: () => taskView(m[1], { onGone: () => fill(root, h('p', { class: 'muted' }, 'No such task for this key.')) }) };
  if (hash === '#/deliveries') return { name: 'deliveries', make: deliveriesView };
  return { name: 'overview', make: overviewView };
}

async function tick() {
  if (busy || !current) return;
  busy = true;
  try {
    const ov = await getJSON('/dashboard/api/overview');
    header(ov);
    await current.view.refresh(ov);
  } catch (err) {
    if (err.message !== 'signed out') {
      setPill('st-refresh', 'refresh failed', 'bad');
      toast(`Refresh failed: ${err.message}`, true);
    }
  } finally {
    busy = false;
  }
}

function navigate() {
  const hash = location.hash || '#/';
  if (hash === route) return;
  route = hash;
  current?.view.destroy();
  const target = viewFor(hash);
  current = { name: target.name, view: target.make() };
  for (const a of document.querySelectorAll('.tabs a')) a.classList.toggle('active', a.dataset.tab === (target.name === 'task' ? 'overview' : target.name));
  fill(root, current.view.el);
  busy = false;
  void tick();
}

window.addEventListener('hashchange', navigate);
navigate();
timer = setInterval(tick, REFRESH_MS);
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    clearInterval(timer);
  } else {
    timer = setInterval(tick, REFRESH_MS);
    void tick();
  }
});
