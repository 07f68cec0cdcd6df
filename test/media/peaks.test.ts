import { expect } from 'chai';
import { PeakAccumulator, parseColour, renderWaveform } from '../../src/media/peaks.js';

function pcm(samples: number[]): Buffer {
  const buf = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => buf.writeInt16LE(s, i * 2));
  return buf;
}

describe('media/peaks', () => {
  it('returns exactly N peaks in 0–1, following the signal', () => {
    const samples = Array.from({ length: 8000 }, (_, i) => Math.round(((i / 8000) * 32767) * (i % 2 ? 1 : -1)));
    const acc = new PeakAccumulator(10);
    acc.push(pcm(samples));
    const peaks = acc.finish();
    expect(peaks).to.have.length(10);
    for (let i = 1; i < peaks.length; i++) expect(peaks[i]).to.be.greaterThan(peaks[i - 1] as number);
    expect(peaks.at(-1)).to.be.within(0.99, 1);
  });

  it('handles samples split across chunks', () => {
    const bytes = pcm([0, 16384, -32768, 100]);
    const acc = new PeakAccumulator(4);
    acc.push(bytes.subarray(0, 3));
    acc.push(bytes.subarray(3));
    const peaks = acc.finish();
    expect(peaks).to.have.length(4);
    expect(Math.max(...peaks)).to.equal(1);
    expect(peaks).to.include(0.5);
  });

  it('keeps memory bounded on long input and still places the loud part correctly', () => {
    const acc = new PeakAccumulator(4);
    // 1,000,000 quiet samples with one loud sample 60 % of the way in.
    const quiet = pcm(Array.from({ length: 1000 }, () => 100));
    for (let i = 0; i < 1000; i++) {
      if (i === 600) {
        const loud = Buffer.from(quiet);
        loud.writeInt16LE(32767, 0);
        acc.push(loud);
      } else acc.push(quiet);
    }
    const peaks = acc.finish();
    expect(peaks.map((p) => (p > 0.5 ? 1 : 0))).to.deep.equal([0, 0, 1, 0]);
    expect((acc as unknown as { blocks: number[] }).blocks.length).to.be.lessThan(32);
  });

  it('gives zeros for empty input', () => {
    expect(new PeakAccumulator(3).finish()).to.deep.equal([0, 0, 0]);
  });

  it('renders a taller bar for a louder peak', () => {
    const fg = parseColour('#f00');
    const img = renderWaveform([0.1, 1], 2, 10, fg, parseColour('#00000000'));
    const column = (x: number) =>
      Array.from({ length: 10 }, (_, y) => img[(y * 2 + x) * 4 + 3]).filter((a) => a === 255).length;
    expect(column(1)).to.equal(10);
    expect(column(0)).to.be.within(1, 2);
    expect([...img.subarray(4 * 2 * 5 + 4, 4 * 2 * 5 + 8)]).to.deep.equal([255, 0, 0, 255]);
    expect(() => parseColour('red')).to.throw(TypeError);
  });
});
