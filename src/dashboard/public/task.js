// One task: timeline (queued → started → progress → finished → each callback
// attempt), result or error, metadata, and the retry / cancel / resend buttons.
import { actionButton, age, badge, dateTime, fill, getJSON, h, hostOf, postJSON, progressBar, time } from './dom.js';

const FINISHED = ['completed', 'failed', 'cancelled'];

function item(cls, what, when, ...detail) {
  return h('li', { class: cls }, h('span', { class: 'what' }, what), h('span', { class: 'when' }, when), detail.length ? h('div', { class: 'detail' }, detail) : null);
}

function attemptClass(outcome) {
  if (outcome === 'delivered') return 'ok';
  if (outcome === 'failed' || outcome === 'blocked') return 'bad';
  return 'warn';
}

function timeline(t, d) {
  const items = [item('', 'queued', dateTime(t.created_at))];
  if (t.started_at) items.push(item('run', 'started', dateTime(t.started_at)));
  if (t.status === 'running') items.push(item('run', `running · ${t.progress}%`, 'now', progressBar(t.progress)));
  if (t.completed_at) {
    const took = t.processing_time === null ? '' : ` after ${age(t.processing_time * 1000)}`;
    items.push(item(t.status === 'completed' ? 'ok' : t.status === 'failed' ? 'bad' : '', `${t.status}${took}`, dateTime(t.completed_at)));
  }
  const attempts = d ? d.attempts : t.callback.attempts;
  const host = hostOf(d?.url ?? t.callback.url ?? '');
  for (const a of attempts) {
    const status = a.status_code === null ? 'no response' : `HTTP ${a.status_code}`;
    const latency = a.duration_ms === null ? '' : ` · ${a.duration_ms} ms`;
    items.push(
      h(
        'li',
        { class: `attempt ${attemptClass(a.outcome)}`, 'data-outcome': a.outcome ?? '' },
        h('span', { class: 'what' }, `callback attempt #${a.n}`),
        h('span', { class: 'when' }, dateTime(a.at)),
        h('div', { class: 'detail' }, badge(a.outcome ?? 'unknown'), ` ${status}${latency} · ${host}`, a.error && a.error !== status ? ` · ${a.error}` : ''),
        a.response_excerpt ? h('div', { class: 'excerpt', title: a.response_excerpt }, a.response_excerpt) : null,
      ),
    );
  }
  if (d && d.state === 'pending' && d.next_attempt_at) items.push(item('warn', 'next callback attempt', time(d.next_attempt_at)));
  if (t.callback.state === 'pending' && !FINISHED.includes(t.status)) items.push(item('', 'callback', 'after the outcome'));
  return h('ol', { class: 'timeline' }, items);
}

/** JSON pretty-printed, or a string as it is (error messages, tracebacks). */
function json(value, cls = '') {
  return h('pre', { class: `json ${cls}` }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function details(t, d) {
  const row = (k, v) => [h('dt', {}, k), h('dd', {}, v ?? '—')];
  return h(
    'dl',
    { class: 'kv' },
    row('task type', t.task_type),
    row('project', t.project_id),
    row('created', dateTime(t.created_at)),
    row('started', dateTime(t.started_at)),
    row('finished', dateTime(t.completed_at)),
    row('run time', t.processing_time === null ? null : `${t.processing_time.toFixed(3)} s`),
    row('callback', t.callback.url ? h('span', { class: 'mono' }, t.callback.url) : 'none'),
    row('callback state', badge(t.callback.state)),
    d ? row('webhook-id', h('span', { class: 'mono' }, d.webhook_message_id ?? '—')) : null,
  );
}

export function taskView(id, { onGone }) {
  const el = h('div', { class: 'grid' });
  const path = `/dashboard/api/tasks/${encodeURIComponent(id)}`;
  let refresh;

  function buttons(t) {
    const done = () => refresh();
    const list = [];
    if (t.status === 'failed' || t.status === 'cancelled') list.push(actionButton('Retry task', 'primary', () => postJSON(`${path}/retry`), done));
    if (t.status === 'queued' || t.status === 'running') list.push(actionButton('Cancel', 'danger', () => postJSON(`${path}/cancel`), done));
    if (FINISHED.includes(t.status) && t.callback.url) list.push(actionButton('Resend callback', '', () => postJSON(`${path}/callback/resend`), done));
    return h('div', { class: 'actions right' }, list);
  }

  refresh = async () => {
    let r;
    try {
      r = await getJSON(path);
    } catch (err) {
      if (err.status === 404) return onGone(id);
      throw err;
    }
    const { task: t, delivery: d } = r;
    const result = t.status === 'completed' ? h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Result')), json(t.result)) : null;
    const error = t.error
      ? h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Error'), h('span', { class: 'right mono small' }, t.error.error_type)), json(t.error.traceback ? `${t.error.message}\n\n${t.error.traceback}` : t.error.message, 'error'))
      : null;
    fill(
      el,
      h('div', { class: 'task-head' }, h('a', { href: '#/' }, '← Overview'), h('span', { class: 'id', 'data-task-id': t.task_id }, t.task_id), badge(t.status), buttons(t)),
      h(
        'div',
        { class: 'task-grid' },
        h('div', { class: 'grid' }, h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Timeline')), timeline(t, d)), result, error),
        h('div', { class: 'grid' }, h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Details')), details(t, d)), h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Metadata')), json(t.metadata))),
      ),
    );
  };
  return { el, refresh: () => refresh(), destroy() {} };
}
