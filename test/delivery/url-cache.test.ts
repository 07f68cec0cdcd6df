import { expect } from 'chai';
import { urlMemo } from '../../src/delivery/url-cache.js';

describe('delivery/url-cache: urlMemo', () => {
  it('derives once per URL, answers null for what does not parse, and stays bounded', () => {
    const seen: string[] = [];
    const hostOf = urlMemo((u) => {
      seen.push(u.href);
      return u.host;
    }, 2);
    expect(hostOf('https://a.example:8443/cb?x=1')).to.equal('a.example:8443');
    expect(hostOf('https://a.example:8443/cb?x=1')).to.equal('a.example:8443');
    expect(hostOf('not a url')).to.equal(null);
    expect(hostOf('not a url')).to.equal(null);
    expect(seen).to.deep.equal(['https://a.example:8443/cb?x=1']);
    // Full (2 entries): the memo starts over, so the first URL is derived again.
    hostOf('http://b.example/');
    hostOf('https://a.example:8443/cb?x=1');
    expect(seen).to.deep.equal(['https://a.example:8443/cb?x=1', 'http://b.example/', 'https://a.example:8443/cb?x=1']);
  });
});
