// Deliveries: the key's dead letters, and per webhook subscription its
// delivery log (every attempt), resend, and "recover failed since…".
import { actionButton, badge, dateTime, fill, getJSON, h, hostOf, postJSON, taskLink, time } from './dom.js';

function attemptRows(d) {
  return d.attempts.map((a) =>
    h(
      'tr',
      { class: 'attempt-row' },
      h('td', { class: 'muted small' }, `#${a.n}`),
      h('td', {}, time(a.at)),
      h('td', {}, hostOf(d.url)),
      h('td', {}, a.status_code === null ? '—' : String(a.status_code)),
      h('td', { class: 'num' }, a.duration_ms === null ? '—' : `${a.duration_ms} ms`),
      h('td', {}, badge(a.outcome ?? 'unknown')),
      h('td', {}, h('div', { class: 'excerpt', title: a.response_excerpt ?? a.error ?? '' }, a.response_excerpt ?? a.error ?? '')),
    ),
  );
}

/** A delivery and its attempts; `reload` runs after a resend. */
function deliveryBlock(d, reload) {
  const resend = actionButton('Resend', '', () => postJSON(`/dashboard/api/deliveries/${encodeURIComponent(d.id)}/resend`), reload);
  return h(
    'tbody',
    { class: 'delivery', 'data-delivery': d.id },
    h(
      'tr',
      { class: 'delivery-head' },
      h('td', { colspan: 2 }, h('div', { class: 'mono small' }, d.id), d.task_id ? h('div', { class: 'small' }, 'task ', taskLink(d.task_id)) : null),
      h('td', {}, d.event ?? '—'),
      h('td', {}, badge(d.state)),
      h('td', { class: 'small muted', colspan: 2 }, `created ${dateTime(d.created_at)}`, d.next_attempt_at ? ` · next retry ${time(d.next_attempt_at)}` : ''),
      h('td', {}, resend),
    ),
    attemptRows(d),
  );
}

const head = () => h('thead', {}, h('tr', {}, ['#', 'time', 'host', 'status', 'latency', 'outcome', 'response'].map((c) => h('th', {}, c))));

function deliveriesTable(list, reload) {
  if (list.length === 0) return h('p', { class: 'empty' }, 'No deliveries.');
  return h('table', { class: 'deliveries' }, head(), list.map((d) => deliveryBlock(d, reload)));
}

function subscriptionPanel(sub) {
  const body = h('div');
  const failedOnly = h('input', { type: 'checkbox' });
  const sinceInput = h('input', { type: 'datetime-local', 'aria-label': 'recover failed since' });
  sinceInput.value = new Date(Date.now() - 3_600_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  let open = false;
  const load = async () => {
    const q = failedOnly.checked ? '?failed=1' : '';
    const page = await getJSON(`/dashboard/api/webhooks/${encodeURIComponent(sub.id)}/deliveries${q}`);
    fill(body, deliveriesTable(page.deliveries, load));
  };
  const toggle = h('button', { class: 'btn', type: 'button' }, 'Show deliveries');
  toggle.addEventListener('click', () => {
    open = !open;
    toggle.textContent = open ? 'Hide deliveries' : 'Show deliveries';
    if (open) void load();
    else body.replaceChildren();
  });
  failedOnly.addEventListener('change', () => open && void load());
  const recover = actionButton(
    'Recover',
    '',
    () => postJSON(`/dashboard/api/webhooks/${encodeURIComponent(sub.id)}/recover`, { since: new Date(sinceInput.value).toISOString() }),
    (r) => {
      if (open) void load();
      return r;
    },
  );
  const panel = h(
    'section',
    { class: 'panel', 'data-webhook': sub.id },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', { class: 'mono' }, sub.url),
      h('span', { class: `badge ${sub.is_active ? 'ok' : 'bad'}` }, sub.is_active ? 'active' : 'disabled'),
      h('span', { class: 'muted small' }, sub.events.join(', ')),
      h('div', { class: 'right filters' }, h('label', { class: 'small' }, failedOnly, ' failed only'), recover ? h('span', { class: 'small muted' }, 'failed since') : null, recover ? sinceInput : null, recover, toggle),
    ),
    sub.description ? h('p', { class: 'muted small' }, sub.description) : null,
    body,
  );
  return { panel, refresh: () => (open ? load() : Promise.resolve()) };
}

export function deliveriesView() {
  const dead = h('div');
  const subs = h('div', { class: 'grid' });
  const panels = new Map();
  const el = h(
    'div',
    { class: 'grid' },
    h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Dead letters'), h('span', { class: 'right muted small' }, 'deliveries whose retries are exhausted')), dead),
    h('h3', {}, 'Webhook subscriptions'),
    subs,
  );
  const loadDead = async () => {
    const page = await getJSON('/dashboard/api/deliveries');
    fill(dead, deliveriesTable(page.deliveries, loadDead));
  };
  return {
    el,
    destroy() {},
    async refresh() {
      await loadDead();
      const { webhooks } = await getJSON('/dashboard/api/webhooks');
      if (webhooks.length === 0) {
        panels.clear();
        fill(subs, h('p', { class: 'muted' }, 'No webhook subscriptions (POST /api/v1/webhooks).'));
      } else if (panels.size === 0) {
        subs.replaceChildren();
      }
      for (const sub of webhooks) {
        if (!panels.has(sub.id)) {
          const p = subscriptionPanel(sub);
          panels.set(sub.id, p);
          subs.append(p.panel);
        }
      }
      await Promise.all([...panels.values()].map((p) => p.refresh()));
    },
  };
}
