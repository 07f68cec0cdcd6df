/** A tiny dashboard client for the HTTP tests: login, cookie, CSRF token, requests. */
import { request } from 'undici';

export interface DashReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export interface DashSession {
  cookie: string;
  csrf: string;
}

export async function call(base: string, path: string, opts: { method?: string; cookie?: string; headers?: Record<string, string>; body?: string } = {}): Promise<DashReply> {
  const res = await request(`${base}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: { ...(opts.cookie ? { cookie: opts.cookie } : {}), ...(opts.headers ?? {}) },
    body: opts.body,
  });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* HTML */
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export function setCookies(r: DashReply): string[] {
  const raw = r.headers['set-cookie'];
  return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
}

export function login(base: string, key: string, headers: Record<string, string> = {}): Promise<DashReply> {
  return call(base, '/dashboard/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ api_key: key }).toString(),
  });
}

/** Logs in and reads the CSRF token from the page shell. */
export async function session(base: string, key: string): Promise<DashSession> {
  const r = await login(base, key);
  if (r.status !== 303) throw new Error(`login failed: ${r.status}`);
  const cookie = (setCookies(r)[0] ?? '').split(';')[0] ?? '';
  const page = await call(base, '/dashboard', { cookie });
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text);
  if (!m?.[1]) throw new Error('no CSRF token in the page');
  return { cookie, csrf: m[1] };
}

export function act(base: string, s: DashSession | null, path: string, token?: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<DashReply> {
  return call(base, path, {
    method: 'POST',
    ...(s ? { cookie: s.cookie } : {}),
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { 'x-csrf-token': token }), ...headers },
    body: JSON.stringify(body),
  });
}
