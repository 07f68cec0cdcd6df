import { expect } from 'chai';
import { localRedisHost, maskRedisUrl } from '../../src/runtime/redis-url.js';

describe('runtime: Redis URL helpers', () => {
  describe('maskRedisUrl', () => {
    it('hides the password in the user info, keeps the user name', () => {
      expect(maskRedisUrl('redis://:wrong@127.0.0.1:6435')).to.equal('redis://:***@127.0.0.1:6435');
      expect(maskRedisUrl('rediss://app:s3cr%40t@redis.example:6380/2')).to.equal('rediss://app:***@redis.example:6380/2');
    });

    it("hides ioredis's ?password= parameter", () => {
      expect(maskRedisUrl('redis://127.0.0.1:6379/0?password=hunter2&family=6')).to.equal('redis://127.0.0.1:6379/0?password=***&family=6');
    });

    it('leaves a URL without a password exactly as it was', () => {
      for (const url of ['redis://127.0.0.1:6379', 'redis://localhost', 'redis://app@[::1]:6379/1', 'redis://h:1?db=1']) {
        expect(maskRedisUrl(url)).to.equal(url);
      }
    });

    it('hides all user info of something that does not parse', () => {
      expect(maskRedisUrl('redis://:pw@host:notaport')).to.equal('redis://***@host:notaport');
    });
  });

  describe('localRedisHost', () => {
    it('names the loopback address the URL says', () => {
      expect(localRedisHost('redis://127.0.0.1:6379')).to.equal('127.0.0.1');
      expect(localRedisHost('redis://localhost:6379')).to.equal('127.0.0.1');
      expect(localRedisHost('redis://[::1]:6379')).to.equal('::1');
      expect(localRedisHost('redis://:pw@[::1]:6400/2')).to.equal('::1');
    });

    it('is null for anything else', () => {
      expect(localRedisHost('redis://10.0.0.5:6379')).to.equal(null);
      expect(localRedisHost('redis://redis:6379')).to.equal(null);
      expect(localRedisHost('not a url')).to.equal(null);
    });
  });
});
