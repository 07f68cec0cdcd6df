import { expect } from 'chai';
import { INPUT_FORMATS, inputGuardArgs, isAcceptedFormat, refusalIn } from '../../src/media/formats.js';

describe('media/formats', () => {
  it('accepts combined demuxer names by any member, and nothing playlist-like', () => {
    expect(isAcceptedFormat('mov,mp4,m4a,3gp,3g2,mj2')).to.equal(true);
    expect(isAcceptedFormat('matroska,webm')).to.equal(true);
    for (const name of ['hls', 'dash', 'concat', 'image2', 'lavfi', 'tty', 'sdp', 'rtsp', 'unknown']) {
      expect(isAcceptedFormat(name), name).to.equal(false);
    }
    expect(INPUT_FORMATS).to.not.include('hls');
  });

  it('whitelists the demuxers and the file protocol only', () => {
    expect(inputGuardArgs()).to.deep.equal(['-format_whitelist', INPUT_FORMATS.join(','), '-protocol_whitelist', 'file']);
  });

  it('turns ffmpeg whitelist refusals into invalid_input naming the format', () => {
    const err = refusalIn("[hls @ 0x55c361fa8280] Format not on whitelist 'mov,mp4'\n/x/in.mp4: Invalid argument\n");
    expect(err?.code).to.equal('invalid_input');
    expect(err?.message).to.match(/^The input is in the "hls" format/);
    expect(err?.extra).to.deep.equal({ reason: 'input_format_refused', format: 'hls' });
    expect(refusalIn("Protocol 'http' not on whitelist 'file'!")?.message).to.match(/"http" protocol/);
    expect(refusalIn('moov atom not found')).to.equal(null);
  });
});
