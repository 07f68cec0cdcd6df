/**
 * The container formats ffmpeg and ffprobe may read a media input with.
 *
 * Some demuxers open further files or URLs named inside the input: an HLS or
 * DASH playlist, an ffconcat list, an image2 pattern. ffmpeg follows those
 * wherever they point (`file:///another/tenant/clip.mp4`, `http://10.0.0.5/`),
 * so checking where the input file itself lives is not enough. Every input is
 * therefore opened with `-format_whitelist` (only the self-contained formats
 * below) and `-protocol_whitelist file`; a nested context inherits both.
 */
import { InvalidInputError } from '../errors.js';

/**
 * Demuxer names as `ffmpeg -demuxers` prints them. A combined demuxer
 * (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`) matches on any of its names.
 * mov's external data references (`dref`) stay off: ffmpeg's `enable_drefs`
 * defaults to false and cannot be passed per input without breaking the other
 * demuxers ("Option enable_drefs not found").
 */
export const INPUT_FORMATS = [
  'mov', 'mp4', 'matroska', 'webm', 'avi', 'mpegts', 'mpeg', 'flv', 'asf', 'ogg',
  'mp3', 'aac', 'flac', 'wav', 'aiff',
] as const;

/** Put before each `-i` (ffmpeg) or anywhere (ffprobe): the input's demuxer and protocol are restricted. */
export function inputGuardArgs(): string[] {
  return ['-format_whitelist', INPUT_FORMATS.join(','), '-protocol_whitelist', 'file'];
}

/** Whether ffprobe's `format_name` (possibly a comma list) names an accepted demuxer. */
export function isAcceptedFormat(formatName: string): boolean {
  const accepted: readonly string[] = INPUT_FORMATS;
  return formatName.split(',').some((name) => accepted.includes(name.trim()));
}

/** `extra.reason` of a refusal, so probe code can tell it from a corrupt file. */
export const FORMAT_REFUSED = 'input_format_refused';

/** The refusal a client sees (`invalid_input`), naming the detected format when known. */
export function formatRefused(detected: string | null): InvalidInputError {
  const what = detected ? `The input is in the "${detected}" format, which media tasks do not accept` : 'The input is in a format media tasks do not accept';
  return new InvalidInputError(
    `${what}: playlists and file lists (HLS, DASH, concat, image sequences) are refused because they make ffmpeg ` +
      'read other files or URLs. Give a single media file (MP4/MOV, WebM/MKV, AVI, MPEG-TS/PS, FLV, ASF, Ogg, MP3, AAC, FLAC, WAV, AIFF).',
    { extra: { reason: FORMAT_REFUSED, ...(detected ? { format: detected } : {}) } },
  );
}

/** Messages ffmpeg/ffprobe print when a whitelist refused the input; null when stderr has none. */
export function refusalIn(stderr: string): InvalidInputError | null {
  // e.g. `[hls @ 0x55c361fa8280] Format not on whitelist 'mov,mp4,…'`
  const format = /\[([\w,-]+) @ [^\]]*\] Format not on whitelist/.exec(stderr);
  if (format) return formatRefused(format[1] ?? null);
  if (/Format not on whitelist/.test(stderr)) return formatRefused(null);
  const protocol = /Protocol '([^']*)' not on whitelist/.exec(stderr);
  if (protocol) {
    return new InvalidInputError(
      `The input refers to another resource through the "${protocol[1] ?? ''}" protocol; media inputs must be a single self-contained file.`,
      { extra: { reason: FORMAT_REFUSED } },
    );
  }
  return null;
}
