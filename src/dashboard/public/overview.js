// The main view: queue cards, charts, workers and the task list.
import { age, badge, fill, getJSON, h, progressBar, since, taskLink, time } from './dom.js';
import { Chart, countFormat, msFormat, pctFormat, sparkline } from './charts.js';

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];

function queueCard(q) {
  const count = (n, l) => h('div', { class: 'count' }, h('div', { class: 'n' }, n), h('div', { class: 'l' }, l));
  const done60 = q.completed.reduce((a, b) => a + b, 0);
  const failed60 = q.failed_series.reduce((a, b) => a + b, 0);
  return h(
    'section',
    { class: 'panel queue-card', 'data-queue': q.queue },
    h('div', { class: 'panel-head' }, h('span', { class: 'name' }, q.queue), h('span', { class: 'rate' }, `${q.completed_per_min} / min`)),
    h('div', { class: 'counts' }, count(q.waiting, 'waiting'), count(q.active, 'active'), count(q.delayed, 'delayed'), count(q.failed, 'failed')),
    sparkline(q.completed, q.failed_series),
    h(
      'div',
      { class: 'queue-foot' },
      h('span', { title: 'age of the oldest waiting task' }, `oldest ${q.oldest_waiting_ms === null ? '—' : age(q.oldest_waiting_ms)}`),
      h('span', { title: 'last 60 minutes' }, `60m: ${done60} ok · ${failed60} failed`),
    ),
  );
}

function workerRow(w) {
  const slots = w.concurrency * Math.max(1, w.queues.length);
  const tasks = w.tasks.length === 0
    ? h('span', { class: 'muted' }, 'idle')
    : h(
        'div',
        { class: 'worker-tasks' },
        w.tasks.map((t) =>
          h(
            'div',
            { class: 'worker-task' },
            t.task_id ? taskLink(t.task_id) : h('span', { class: 'muted' }, "another key's task"),
            h('span', { class: 'muted' }, t.task_type),
            t.progress === null ? h('span', { class: 'muted' }, '') : progressBar(t.progress),
            h('span', { class: 'muted small' }, t.progress === null ? '' : `${t.progress}%`),
            h('span', { class: 'muted small' }, age(t.elapsed_ms)),
          ),
        ),
      );
  return h(
    'tr',
    { class: w.stale ? 'stale' : '' },
    h('td', {}, h('div', {}, w.host), h('div', { class: 'muted small' }, `pid ${w.pid}`)),
    h('td', {}, w.queues.join(', ')),
    h('td', { class: 'num' }, `${w.busy} / ${slots}`),
    h('td', {}, tasks),
    h('td', { class: 'hb' }, w.stale ? `${age(w.heartbeat_age_ms)} ago (stale)` : `${age(w.heartbeat_age_ms)} ago`),
    h('td', { class: 'muted' }, age(w.uptime_ms)),
  );
}

function taskRow(t) {
  return h(
    'tr',
    { 'data-task': t.task_id },
    h('td', {}, taskLink(t.task_id)),
    h('td', {}, t.task_type),
    h('td', {}, badge(t.status)),
    h('td', {}, t.status === 'running' ? h('div', { class: 'progress-row' }, progressBar(t.progress), h('span', { class: 'small muted' }, `${t.progress}%`)) : h('span', { class: 'muted' }, t.status === 'completed' ? '100%' : '—')),
    h('td', { title: t.created_at ?? '' }, time(t.created_at), h('span', { class: 'muted small' }, ` · ${since(t.created_at)} ago`)),
    h('td', { class: 'cb' }, badge(t.callback_state)),
  );
}

export function overviewView() {
  const queues = h('div', { class: 'grid queues' });
  const throughput = new Chart('Throughput', 'per minute, last 60 min', countFormat);
  const p95 = new Chart('p95 run time by task type', 'per minute', msFormat);
  const callbacks = new Chart('Callback success rate', 'delivered / attempts', pctFormat);
  const charts = [throughput, p95, callbacks];
  const workersBody = h('tbody');
  const tasksBody = h('tbody');
  const cbSummary = h('span', { class: 'right muted small' });

  const state = { status: '', type: '', id: '', cursors: [''], more: null };
  const statusSel = h('select', { 'aria-label': 'status' }, h('option', { value: '' }, 'all states'), STATUSES.map((st) => h('option', { value: st }, st)));
  const typeSel = h('select', { 'aria-label': 'task type' }, h('option', { value: '' }, 'all types'));
  const search = h('input', { type: 'search', placeholder: 'task id', 'aria-label': 'search by task id' });
  const newer = h('button', { class: 'btn', type: 'button' }, '← Newer');
  const older = h('button', { class: 'btn', type: 'button' }, 'Older →');
  let typesLoaded = false;

  const restart = () => {
    state.cursors = [''];
    void loadTasks();
  };
  statusSel.addEventListener('change', () => { state.status = statusSel.value; restart(); });
  typeSel.addEventListener('change', () => { state.type = typeSel.value; restart(); });
  search.addEventListener('change', () => { state.id = search.value.trim(); restart(); });
  newer.addEventListener('click', () => { if (state.cursors.length > 1) { state.cursors.pop(); void loadTasks(); } });
  older.addEventListener('click', () => { if (state.more) { state.cursors.push(state.more); void loadTasks(); } });

  async function loadTasks() {
    const q = new URLSearchParams();
    if (state.id) q.set('id', state.id);
    else {
      if (state.status) q.set('status', state.status);
      if (state.type) q.set('task_type', state.type);
      const cursor = state.cursors[state.cursors.length - 1];
      if (cursor) q.set('cursor', cursor);
    }
    const page = await getJSON(`/dashboard/api/tasks?${q}`);
    state.more = page.next_cursor;
    fill(tasksBody, page.tasks.length === 0 ? h('tr', {}, h('td', { class: 'empty', colspan: 6 }, 'No tasks match.')) : page.tasks.map(taskRow));
    newer.disabled = state.cursors.length <= 1;
    older.disabled = !state.more;
  }

  const head = (...cols) => h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c))));
  const el = h(
    'div',
    { class: 'grid' },
    queues,
    h('div', { class: 'grid charts' }, charts.map((c) => c.panel)),
    h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Workers'), cbSummary), h('table', { class: 'workers' }, head('Worker', 'Queues', 'Busy', 'Running', 'Heartbeat', 'Up'), workersBody)),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Tasks'), h('div', { class: 'right filters' }, statusSel, typeSel, search)),
      h('table', { class: 'tasks' }, head('Task', 'Type', 'State', 'Progress', 'Created', 'Callback'), tasksBody),
      h('div', { class: 'pager' }, newer, older),
    ),
  );
  const onResize = () => charts.forEach((c) => c.resize());
  window.addEventListener('resize', onResize);

  return {
    el,
    destroy: () => window.removeEventListener('resize', onResize),
    async refresh(ov) {
      if (!typesLoaded && ov.task_types) {
        typeSel.append(...ov.task_types.map((t) => h('option', { value: t }, t)));
        typesLoaded = true;
      }
      fill(queues, ov.queues.map(queueCard));
      const m = ov.charts.minutes;
      throughput.update(m, [
        { label: 'completed', values: ov.charts.throughput.completed, color: '#1f9d63', fill: 'rgba(31,157,99,0.10)' },
        { label: 'failed', values: ov.charts.throughput.failed, color: '#d6453d' },
      ]);
      const types = Object.keys(ov.charts.p95);
      p95.update(m, types.length ? types.map((t) => ({ label: t, values: ov.charts.p95[t] })) : [{ label: 'no runs yet', values: m.map(() => null) }]);
      callbacks.update(m, [{ label: 'success', values: ov.charts.callbackSuccess.map((v) => (v === null ? null : v * 100)), color: '#3b6fe0', fill: 'rgba(59,111,224,0.08)' }]);
      fill(workersBody, ov.workers.length === 0 ? h('tr', {}, h('td', { class: 'empty', colspan: 6 }, 'No live workers.')) : ov.workers.map(workerRow));
      fill(cbSummary, `callbacks pending ${ov.callbacks.pending} · retrying ${ov.callbacks.failing}`);
      await loadTasks();
    },
  };
}
