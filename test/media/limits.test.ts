import { expect } from 'chai';
import { testConfig } from '../../src/config.js';
import { TaskhookError } from '../../src/errors.js';
import {
  assertDuration,
  assertInputBytes,
  assertOutputDimensions,
  assertPixels,
  fitDimensions,
} from '../../src/media/limits.js';

describe('media/limits', () => {
  const config = testConfig({
    MEDIA_MAX_INPUT_BYTES: '1000',
    MEDIA_MAX_DURATION_S: '10',
    MEDIA_MAX_PIXELS: '10000',
    MEDIA_MAX_OUTPUT_DIMENSION: '500',
  });

  it('accepts values at the limit and refuses one past it, naming the setting', () => {
    const cases: [() => void, () => void, string][] = [
      [() => assertInputBytes(1000, config), () => assertInputBytes(1001, config), 'MEDIA_MAX_INPUT_BYTES'],
      [() => assertDuration(10, config), () => assertDuration(10.5, config), 'MEDIA_MAX_DURATION_S'],
      [() => assertPixels(100, 100, config), () => assertPixels(101, 100, config), 'MEDIA_MAX_PIXELS'],
      [() => assertOutputDimensions(500, 500, config), () => assertOutputDimensions(10, 501, config), 'MEDIA_MAX_OUTPUT_DIMENSION'],
    ];
    for (const [ok, bad, name] of cases) {
      expect(ok).to.not.throw();
      try {
        bad();
        expect.fail(`${name} not enforced`);
      } catch (err) {
        expect(err).to.be.instanceOf(TaskhookError);
        expect((err as TaskhookError).code).to.equal('limit_exceeded');
        expect((err as TaskhookError).message).to.include(name);
      }
    }
  });

  describe('fitDimensions (sharp rules)', () => {
    it('keeps the aspect ratio when one side is given', () => {
      expect(fitDimensions(400, 200, { width: 100, fit: 'inside' })).to.deep.equal({ width: 100, height: 50 });
      expect(fitDimensions(400, 200, { height: 100, fit: 'cover' })).to.deep.equal({ width: 200, height: 100 });
    });
    it('inside/outside scale to fit; cover/contain/fill give the box', () => {
      expect(fitDimensions(400, 200, { width: 100, height: 100, fit: 'inside' })).to.deep.equal({ width: 100, height: 50 });
      expect(fitDimensions(400, 200, { width: 100, height: 100, fit: 'outside' })).to.deep.equal({ width: 200, height: 100 });
      expect(fitDimensions(400, 200, { width: 100, height: 100, fit: 'cover' })).to.deep.equal({ width: 100, height: 100 });
    });
    it('never enlarges when asked not to', () => {
      expect(fitDimensions(40, 20, { width: 400, fit: 'inside', withoutEnlargement: true })).to.deep.equal({ width: 40, height: 20 });
    });
  });
});
