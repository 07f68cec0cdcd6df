/** The CLI's HTTP client for the taskhook API: one request, and problem+json made readable. */
import { request } from 'undici';
import { DependencyError, TaskhookError, coerceError } from '../errors.js';
import type { ClientSettings } from './io.js';

export interface ApiResponse {
  status: number;
  json: Record<string, unknown>;
}

/** How long one API request may take; the API answers in milliseconds. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Sends one request with the API key; a body that is not JSON comes back as `{}`. */
export async function apiRequest(settings: ClientSettings, method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiResponse> {
  let res;
  try {
    res = await request(`${settings.url}${path}`, {
      method,
      headers: {
        'x-api-key': settings.apiKey,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
  } catch (err) {
    const e = coerceError(err);
    const code = (e as { code?: string }).code;
    throw new DependencyError('api_unreachable', `cannot reach the taskhook API at ${settings.url} (${code ?? e.message}); is it running? (set --url or TASKHOOK_URL)`, e);
  }
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = { detail: text.slice(0, 500) };
  }
  return { status: res.statusCode, json };
}

/**
 * An API error answer as lines for people: title, status, code and detail,
 * then every field error and the extra members that help (known task types).
 */
export function formatProblem(res: ApiResponse): string {
  const p = res.json;
  const title = typeof p.title === 'string' ? p.title : 'Error';
  const code = typeof p.code === 'string' ? ` ${p.code}` : '';
  const lines = [`${title} (HTTP ${res.status}${code})${typeof p.detail === 'string' ? `: ${p.detail}` : ''}`];
  if (Array.isArray(p.errors)) {
    for (const e of p.errors as { field?: unknown; message?: unknown }[]) {
      lines.push(`  ${String(e.field ?? 'body')}: ${String(e.message ?? '')}`);
    }
  }
  if (Array.isArray(p.known_task_types)) lines.push(`  known task types: ${p.known_task_types.join(', ')}`);
  return lines.join('\n');
}

/** An error answer from the API, shown with `formatProblem`. */
export class ApiProblemError extends TaskhookError {
  constructor(res: ApiResponse) {
    super(typeof res.json.code === 'string' ? res.json.code : 'api_error', formatProblem(res), { status: res.status });
  }
}
