/**
 * What every CLI command receives instead of touching `process` directly, so
 * commands run the same in the `taskhook` binary and in-process in tests; plus
 * the few helpers they share (client settings, usage errors, exit codes).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TaskhookError, ValidationError, coerceError } from '../errors.js';

/** A writable text stream; `isTTY` decides between live rendering and plain lines. */
export interface CliStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  /** The environment (flags fall back to it). */
  env: Record<string, string | undefined>;
  /**
   * Resolves when the user asks a long-running command to stop (SIGINT or
   * SIGTERM in the binary; tests pass their own).
   */
  interrupted(): Promise<void>;
}

/**
 * A command's answer: an exit code, or `undefined` when the command started
 * a daemon that owns the process from now on (its signal handlers exit).
 */
export type CommandResult = number | undefined;

export type Command = (argv: string[], io: CliIo) => Promise<CommandResult>;

/** Exit codes: 0 success, 1 failure (a failed task, an API error), 2 wrong usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Wrong flags or arguments: reported with a pointer to `--help`, exit 2. */
export function usageError(message: string): ValidationError {
  return new ValidationError(message, [{ field: 'argv', message }], { usage: true });
}

export function isUsageError(err: unknown): boolean {
  if (err instanceof ValidationError && err.extra.usage === true) return true;
  // node:util parseArgs throws TypeErrors with these codes.
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** `parseArgs` with strict checking; its errors become usage errors. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>> {
  return parseArgs({ args: argv, options, strict: true, allowPositionals });
}

/** Prints an error the way every command does; returns the exit code. */
export function reportError(thrown: unknown, io: CliIo, command: string): number {
  const err = coerceError(thrown);
  if (isUsageError(err)) {
    io.stderr.write(`taskhook ${command}: ${err.message}\nRun "taskhook ${command} --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (err instanceof TaskhookError) {
    io.stderr.write(`taskhook: ${err.message}\n`);
  } else {
    io.stderr.write(`taskhook: unexpected error: ${err.stack ?? err.message}\n`);
  }
  return EXIT_FAILED;
}

export interface ClientSettings {
  /** Base URL of the API, without a trailing slash. */
  url: string;
  apiKey: string;
}

/**
 * Where client commands send requests: flags, then TASKHOOK_URL /
 * TASKHOOK_API_KEY, then the first plain key of API_KEYS (a `sha256:` entry
 * cannot be sent), then the development defaults.
 */
export function clientSettings(env: CliIo['env'], flags: { url?: string; key?: string }): ClientSettings {
  const url = flags.url ?? nonEmpty(env.TASKHOOK_URL) ?? 'http://localhost:3000';
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw usageError(`--url / TASKHOOK_URL must be an http(s) URL, got "${url}"`);
  }
  const fromKeys = (env.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .find((k) => k.length > 0 && !k.startsWith('sha256:'));
  const apiKey = flags.key ?? nonEmpty(env.TASKHOOK_API_KEY) ?? fromKeys ?? 'dev-key';
  return { url: url.replace(/\/+$/, ''), apiKey };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Parses a JSON object flag (`--data`, `--metadata`); names the flag when it is not one. */
export function jsonObjectFlag(name: string, raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw usageError(`--${name} must be a JSON object: ${coerceError(err).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw usageError(`--${name} must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

/** A whole positive number flag, e.g. `--port`. */
export function intFlag(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw usageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}
