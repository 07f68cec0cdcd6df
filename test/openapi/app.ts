/**
 * The real app for the OpenAPI tests, wired like src/runtime/api-process.ts
 * (files router as an extra router, a metrics registry) on the API test
 * harness: private Redis, listening on 127.0.0.1:0.
 */
import { request } from 'undici';
import { createMetrics } from '../../src/metrics/metrics.js';
import { startApi, type Harness } from '../api/harness.js';

export const API_KEY = 'openapi-test-key-0123456789';

export type TestApp = Harness;

export function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const MEDIA_OUTPUT_DIR = '/nonexistent-openapi-test';
  return startApi(
    { API_KEYS: API_KEY, MEDIA_OUTPUT_DIR, ...env },
    { withFiles: true, metrics: createMetrics({ defaults: false }) },
  );
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One request; `key: false` sends no API key. */
export async function send(t: TestApp, method: string, path: string, opts: { key?: boolean; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.key !== false) headers['x-api-key'] = API_KEY;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(t.base + path, {
    method: method as 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}
