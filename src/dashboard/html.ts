/**
 * The dashboard's two HTML documents: the login form and the page shell the
 * client script fills in. Neither carries task data (the script fetches it
 * as JSON and builds the DOM with textContent); the few values they do carry
 * are escaped anyway.
 */

/** Strict: only our own scripts, styles, fetches and images; never framed. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function head(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/dashboard/assets/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<link rel="icon" href="data:,">`;
}

/** The login form; `error` is shown above it (a fixed message, escaped regardless). */
export function loginPage(opts: { error?: string; version: string }): string {
  const error = opts.error ? `<p class="login-error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  return `${head('taskhook — sign in')}
</head>
<body class="login">
<main class="login-box">
  <h1><span class="brand-mark">◆</span> taskhook</h1>
  <p class="muted">Sign in with an API key to see its tasks.</p>
  ${error}
  <form method="post" action="/dashboard/login" autocomplete="off">
    <label for="api_key">API key</label>
    <input id="api_key" name="api_key" type="password" required autofocus maxlength="1024">
    <button type="submit" class="btn primary">Sign in</button>
  </form>
  <p class="muted small">The key is checked once and never stored: the session keeps only its tenant. v${escapeHtml(opts.version)}</p>
</main>
</body>
</html>
`;
}

/** The page shell; the client script reads the CSRF token and the read-only flag from it. */
export function shellPage(opts: { csrf: string; readonly: boolean; version: string; tenant: string }): string {
  return `${head('taskhook dashboard')}
<meta name="csrf-token" content="${escapeHtml(opts.csrf)}">
<script src="/dashboard/assets/uPlot.iife.min.js"></script>
<script type="module" src="/dashboard/assets/main.js"></script>
</head>
<body data-readonly="${opts.readonly ? 'true' : 'false'}">
<header class="topbar">
  <a class="brand" href="#/"><span class="brand-mark">◆</span> taskhook</a>
  <nav class="tabs">
    <a href="#/" data-tab="overview">Overview</a>
    <a href="#/deliveries" data-tab="deliveries">Deliveries</a>
  </nav>
  <div class="status">
    <span class="pill" id="st-redis">Redis …</span>
    <span class="pill muted" id="st-version">v${escapeHtml(opts.version)}</span>
    <span class="pill muted" id="st-uptime">up …</span>
    <span class="pill muted" id="st-refresh">…</span>
    <span class="pill muted" title="the signed-in key's tenant id">key ${escapeHtml(opts.tenant)}</span>
    ${opts.readonly ? '<span class="pill warn">read-only</span>' : ''}
    <form method="post" action="/dashboard/logout" class="logout">
      <input type="hidden" name="csrf" value="${escapeHtml(opts.csrf)}">
      <button type="submit" class="btn ghost">Sign out</button>
    </form>
  </div>
</header>
<main id="view" class="view"><p class="muted">Loading…</p></main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
</body>
</html>
`;
}
