import { expect } from 'chai';
import { testConfig } from '../../src/config.js';
import { TaskhookError } from '../../src/errors.js';
import { normaliseProbe, probeMedia } from '../../src/media/probe.js';
import { getFixtures } from '../helpers/fixtures.js';

describe('media/probe', () => {
  const config = testConfig();
  const signal = new AbortController().signal;

  it('normalises a real file: dimensions, rate, codecs, duration', async () => {
    const fx = await getFixtures();
    const info = await probeMedia(config, fx.video, signal);
    expect(info.video).to.include({ codec: 'h264', width: 320, height: 240, frame_rate: 25, rotation: 0 });
    expect(info.audio?.codec).to.equal('aac');
    expect(info.duration_s).to.be.within(1.9, 2.2);
    expect(info.size_bytes).to.be.greaterThan(1000);
    expect(info.format).to.include('mp4');
  });

  it('finds audio-only files (video: null)', async () => {
    const fx = await getFixtures();
    const info = await probeMedia(config, fx.audio, signal);
    expect(info.video).to.equal(null);
    expect(info.audio).to.include({ codec: 'pcm_s16le', sample_rate: 44100, channels: 1 });
  });

  it('reports a corrupt file as invalid_input', async () => {
    const fx = await getFixtures();
    const err = await probeMedia(config, fx.corruptVideo, signal).catch((e: TaskhookError) => e);
    expect(err).to.be.instanceOf(TaskhookError);
    expect((err as TaskhookError).code).to.equal('invalid_input');
  });

  it('swaps display dimensions for a 90° rotation and skips cover art', () => {
    const info = normaliseProbe({
      format: { format_name: 'mov', duration: '3.5', size: '100', bit_rate: 'N/A' },
      streams: [
        { codec_type: 'video', codec_name: 'mjpeg', width: 600, height: 600, disposition: { attached_pic: 1 } },
        {
          codec_type: 'video',
          codec_name: 'hevc',
          width: 1920,
          height: 1080,
          avg_frame_rate: '30000/1001',
          side_data_list: [{ rotation: -90 }],
        },
      ],
    });
    expect(info.video).to.include({ codec: 'hevc', width: 1080, height: 1920, rotation: 270, frame_rate: 29.97 });
    expect(info.bit_rate).to.equal(null);
    expect(info.audio).to.equal(null);
  });

  it('rejects output with no streams', () => {
    expect(() => normaliseProbe({ streams: [], format: {} })).to.throw(TaskhookError).with.property('code', 'invalid_input');
  });
});
