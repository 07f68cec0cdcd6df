/**
 * ffprobe's JSON, normalised into the few numbers tasks and clients need.
 * `normaliseProbe` is pure so it can be tested on recorded output.
 */
import { InvalidInputError, TaskhookError } from '../errors.js';
import type { Config } from '../config.js';
import { runFfprobe } from './ffmpeg.js';
import { FORMAT_REFUSED, formatRefused, isAcceptedFormat } from './formats.js';

export interface VideoStreamInfo {
  codec: string;
  /** Display size: already swapped when the stream is rotated by ±90°. */
  width: number;
  height: number;
  /** Frames per second (average), 0 when unknown. */
  frame_rate: number;
  pix_fmt: string | null;
  /** Rotation in degrees from the display matrix or `rotate` tag (0, 90, 180, 270). */
  rotation: number;
  bit_rate: number | null;
}

export interface AudioStreamInfo {
  codec: string;
  sample_rate: number;
  channels: number;
  channel_layout: string | null;
  bit_rate: number | null;
}

export interface MediaInfo {
  /** ffprobe's format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`. */
  format: string;
  duration_s: number;
  size_bytes: number;
  bit_rate: number | null;
  /** First video stream that is not cover art, or null. */
  video: VideoStreamInfo | null;
  /** First audio stream, or null. */
  audio: AudioStreamInfo | null;
}

interface RawStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  bit_rate?: string;
  duration?: string;
  sample_rate?: string;
  channels?: number;
  channel_layout?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
  disposition?: { attached_pic?: number };
}

interface RawProbe {
  streams?: RawStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
}

/**
 * Runs ffprobe on a local file; an unreadable file, or one in a format outside
 * formats.ts (playlists and the like), is `invalid_input`.
 */
export async function probeMedia(config: Pick<Config, 'FFPROBE_PATH'>, file: string, signal: AbortSignal): Promise<MediaInfo> {
  let stdout: string;
  try {
    ({ stdout } = await runFfprobe(
      config,
      ['-print_format', 'json', '-show_format', '-show_streams', '--', file],
      signal,
    ));
  } catch (err) {
    if (signal.aborted || !(err instanceof TaskhookError) || err.code === 'dependency_missing') throw err;
    if (err.extra.reason === FORMAT_REFUSED) throw err;
    throw new InvalidInputError('The input is not a media file ffprobe can read (corrupt or unsupported format).', {
      cause: err,
    });
  }
  let raw: RawProbe;
  try {
    raw = JSON.parse(stdout) as RawProbe;
  } catch (cause) {
    throw new InvalidInputError('ffprobe returned unreadable output for this input.', { cause });
  }
  const info = normaliseProbe(raw);
  // ffprobe already refused other demuxers; checking its answer too costs nothing.
  if (!isAcceptedFormat(info.format)) throw formatRefused(info.format);
  return info;
}

/** Pure: ffprobe JSON → MediaInfo. Throws `invalid_input` when there is no stream at all. */
export function normaliseProbe(raw: RawProbe): MediaInfo {
  const streams = raw.streams ?? [];
  if (streams.length === 0 || !raw.format) {
    throw new InvalidInputError('The input has no audio or video stream.');
  }
  const v = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const a = streams.find((s) => s.codec_type === 'audio');
  const streamDuration = Math.max(0, ...streams.map((s) => num(s.duration) ?? 0));
  return {
    format: raw.format.format_name ?? 'unknown',
    duration_s: round(num(raw.format.duration) ?? streamDuration, 3),
    size_bytes: num(raw.format.size) ?? 0,
    bit_rate: num(raw.format.bit_rate),
    video: v ? videoInfo(v) : null,
    audio: a
      ? {
          codec: a.codec_name ?? 'unknown',
          sample_rate: num(a.sample_rate) ?? 0,
          channels: a.channels ?? 0,
          channel_layout: a.channel_layout ?? null,
          bit_rate: num(a.bit_rate),
        }
      : null,
  };
}

function videoInfo(s: RawStream): VideoStreamInfo {
  const rotation = normaliseRotation(s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? num(s.tags?.rotate) ?? 0);
  const w = s.width ?? 0;
  const h = s.height ?? 0;
  const swap = rotation === 90 || rotation === 270;
  return {
    codec: s.codec_name ?? 'unknown',
    width: swap ? h : w,
    height: swap ? w : h,
    frame_rate: round(rate(s.avg_frame_rate) || rate(s.r_frame_rate), 3),
    pix_fmt: s.pix_fmt ?? null,
    rotation,
    bit_rate: num(s.bit_rate),
  };
}

function normaliseRotation(deg: number): number {
  const r = ((Math.round(deg / 90) * 90) % 360 + 360) % 360;
  return r;
}

/** `30000/1001` → 29.97; `0/0` → 0. */
function rate(text: string | undefined): number {
  if (!text) return 0;
  const [n, d] = text.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  if (d === undefined) return n;
  return d > 0 && Number.isFinite(d) ? n / d : 0;
}

function num(text: string | number | undefined): number | null {
  if (text === undefined || text === 'N/A') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
