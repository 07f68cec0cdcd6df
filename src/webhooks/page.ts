/**
 * Cursor pagination over sorted sets, newest first. A cursor is opaque to
 * clients: base64url of the last returned item's score and member. Pages
 * are read by `zpage.lua` (one round trip, exact inside runs of equal scores).
 */
import type { Redis } from 'ioredis';
import { ValidationError } from '../errors.js';
import { callScript, defineScript } from '../store/scripts.js';

export interface Cursor {
  score: number;
  member: string;
}

export interface PageEntry {
  member: string;
  score: number;
}

const MEMBER = /^[A-Za-z0-9._:-]{1,200}$/;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.score}:${c.member}`, 'utf8').toString('base64url');
}

/** Parses a client's cursor; a 400 naming `cursor` when it is not one we issued. */
export function decodeCursor(raw: string | undefined): Cursor | null {
  if (raw === undefined || raw === '') return null;
  const text = /^[A-Za-z0-9_-]{1,512}$/.test(raw) ? Buffer.from(raw, 'base64url').toString('utf8') : '';
  const sep = text.indexOf(':');
  const score = Number(text.slice(0, sep));
  const member = text.slice(sep + 1);
  if (sep < 1 || !/^\d{1,16}$/.test(text.slice(0, sep)) || !Number.isSafeInteger(score) || !MEMBER.test(member)) {
    throw new ValidationError('The cursor is invalid.', [{ field: 'cursor', message: 'not a cursor returned by this API' }]);
  }
  return { score, member };
}

export function loadPageScript(redis: Redis): void {
  defineScript(redis, new URL('./lua/', import.meta.url), 'zpage', 1);
}

/**
 * Up to `count` entries of `key`, newest first, after `cursor`, none older
 * than `minScore`. Call `loadPageScript` on the client first.
 */
export async function zPage(redis: Redis, key: string, cursor: Cursor | null, count: number, minScore?: number): Promise<PageEntry[]> {
  const flat = await callScript<string[]>(
    redis,
    'zpage',
    [key],
    [cursor ? cursor.score : '', cursor ? cursor.member : '', minScore === undefined ? '' : minScore, count],
  );
  const out: PageEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
  return out;
}

/** One page of items, and where the next one starts (null at the end). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface ScanOptions<T> {
  key: string;
  cursor: Cursor | null;
  limit: number;
  minScore?: number;
  /** Loads the entries (one pipeline); null for an entry to leave out (gone, or filtered). */
  load(entries: PageEntry[]): Promise<(T | null)[]>;
  /** Entries examined per request at most, so a selective filter cannot scan a whole set. @default 1000 */
  maxScan?: number;
}

const CHUNK = 100;

/**
 * A page of `limit` items, examining entries chunk by chunk until the page
 * is full, the set ends, or `maxScan` entries were examined. With a filter, a
 * page may hold fewer than `limit` items and still have a next cursor.
 */
export async function scanPage<T>(redis: Redis, opts: ScanOptions<T>): Promise<Page<T>> {
  const maxScan = opts.maxScan ?? 1000;
  const items: T[] = [];
  let cursor = opts.cursor;
  let scanned = 0;
  for (let round = 0; ; round++) {
    // The first read asks for exactly a page; later ones (a filter left gaps) read whole chunks.
    const want = Math.max(1, Math.min(maxScan - scanned, round === 0 ? opts.limit : CHUNK));
    // One more than wanted: tells whether anything follows without another trip.
    const entries = await zPage(redis, opts.key, cursor, want + 1, opts.minScore);
    const chunk = entries.slice(0, want);
    const more = entries.length > want;
    const loaded = await opts.load(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const item = loaded[i];
      if (item !== null && item !== undefined) items.push(item);
      if (items.length >= opts.limit) {
        const hasMore = i < chunk.length - 1 || more;
        const last = chunk[i] as PageEntry;
        return { items, next_cursor: hasMore ? encodeCursor({ score: last.score, member: last.member }) : null };
      }
    }
    scanned += chunk.length;
    const last = chunk[chunk.length - 1];
    if (!more || last === undefined) return { items, next_cursor: null };
    cursor = { score: last.score, member: last.member };
    if (scanned >= maxScan) return { items, next_cursor: encodeCursor(cursor) };
  }
}
