/**
 * Waveform peaks from a stream of 16-bit mono PCM, in memory proportional to
 * the number of points (not to the audio's length), and a plain RGBA renderer
 * for the PNG. Both pure, so they are tested without ffmpeg.
 */

/**
 * Accumulates max |sample| per block; `finish()` folds the blocks into `points`
 * peaks in 0–1. Blocks start one sample wide and double (pairs merged) whenever
 * there are 8 × points of them, so memory stays O(points) for any length and
 * no duration estimate is needed.
 */
export class PeakAccumulator {
  private blocks: number[] = [];
  private blockSize = 1;
  private current = 0;
  private inBlock = 0;
  private carry: number | null = null;

  /** @param points Peaks wanted. */
  constructor(private readonly points: number) {}

  /** Feeds raw s16le bytes; a chunk may split a sample in two. */
  push(chunk: Buffer): void {
    let i = 0;
    if (this.carry !== null && chunk.length > 0) {
      this.add(Buffer.from([this.carry, chunk[0] as number]).readInt16LE(0));
      this.carry = null;
      i = 1;
    }
    for (; i + 1 < chunk.length; i += 2) this.add(chunk.readInt16LE(i));
    if (i < chunk.length) this.carry = chunk[i] as number;
  }

  private add(sample: number): void {
    const a = Math.abs(sample);
    if (a > this.current) this.current = a;
    if (++this.inBlock === this.blockSize) this.flush();
  }

  private flush(): void {
    this.blocks.push(this.current);
    this.current = 0;
    this.inBlock = 0;
    if (this.blocks.length >= this.points * 8) this.compact();
  }

  private compact(): void {
    const merged: number[] = [];
    for (let i = 0; i + 1 < this.blocks.length; i += 2) {
      merged.push(Math.max(this.blocks[i] as number, this.blocks[i + 1] as number));
    }
    // An odd last block becomes the partial block of the doubled size.
    if (this.blocks.length % 2 === 1) {
      this.current = this.blocks.at(-1) as number;
      this.inBlock = this.blockSize;
    }
    this.blocks = merged;
    this.blockSize *= 2;
  }

  /** Exactly `points` values in 0–1 (3 decimals); all zero for empty input. */
  finish(): number[] {
    if (this.inBlock > 0) this.flush();
    const b = this.blocks.length;
    const out: number[] = [];
    for (let p = 0; p < this.points; p++) {
      if (b === 0) {
        out.push(0);
        continue;
      }
      const from = Math.floor((p * b) / this.points);
      const to = Math.max(from + 1, Math.floor(((p + 1) * b) / this.points));
      let max = 0;
      for (let k = from; k < to && k < b; k++) max = Math.max(max, this.blocks[k] as number);
      out.push(Math.round((max / 32768) * 1000) / 1000);
    }
    return out;
  }
}

export type Rgba = [number, number, number, number];

/** `#rgb`, `#rrggbb` or `#rrggbbaa` → RGBA bytes. */
export function parseColour(hex: string): Rgba {
  let h = hex.replace(/^#/, '');
  if (h.length === 3) h = [...h].map((c) => c + c).join('');
  if (h.length === 6) h += 'ff';
  if (!/^[0-9a-fA-F]{8}$/.test(h)) throw new TypeError(`"${hex}" is not a #rrggbb colour`);
  return [0, 2, 4, 6].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgba;
}

/**
 * Draws one centred vertical bar per column (the max of the peaks under it)
 * into a raw RGBA buffer of `width`×`height`.
 */
export function renderWaveform(peaks: readonly number[], width: number, height: number, fg: Rgba, bg: Rgba): Buffer {
  const buf = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) buf.set(bg, i * 4);
  const n = peaks.length;
  const mid = height / 2;
  for (let x = 0; x < width; x++) {
    const from = Math.floor((x * n) / width);
    const to = Math.max(from + 1, Math.floor(((x + 1) * n) / width));
    let amp = 0;
    for (let k = from; k < to && k < n; k++) amp = Math.max(amp, peaks[k] as number);
    // At least one pixel, so silence still shows as a line.
    const half = Math.max(0.5, (amp * height) / 2);
    const top = Math.max(0, Math.floor(mid - half));
    const bottom = Math.min(height, Math.ceil(mid + half));
    for (let y = top; y < bottom; y++) buf.set(fg, (y * width + x) * 4);
  }
  return buf;
}
