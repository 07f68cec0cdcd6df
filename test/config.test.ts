import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { expect } from 'chai';
import { configSchema, parseConfig, DEV_API_KEY } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

describe('config', () => {
  const example = parseEnv(readFileSync(new URL('../.env.example', import.meta.url), 'utf8'));

  it('.env.example lists every variable of the schema, and nothing else', () => {
    const keys = Object.keys((configSchema.in as unknown as { shape: Record<string, unknown> }).shape).sort();
    expect(Object.keys(example).sort()).to.deep.equal(keys);
  });

  it('.env.example values parse to exactly the schema defaults', () => {
    expect(parseConfig(example)).to.deep.equal(parseConfig({}));
  });

  it('development defaults: dev key, dev secret, http allowed, loopback allowlisted', () => {
    const c = parseConfig({});
    expect(c.API_KEYS).to.deep.equal([DEV_API_KEY]);
    expect(c.WEBHOOK_SECRET).to.match(/^whsec_/);
    expect(c.CALLBACK_ALLOW_HTTP).to.equal(true);
    expect(c.CALLBACK_ALLOWLIST).to.include('127.0.0.0/8');
    expect(c.CALLBACK_MAX_RETRIES).to.equal(3);
    expect(c.CALLBACK_BACKOFF_MS).to.equal(1000);
    expect(c.CALLBACK_TIMEOUT_MS).to.equal(30_000);
  });

  it('production: https only, empty allowlist, and no dev secrets', () => {
    const c = parseConfig({ NODE_ENV: 'production', API_KEYS: 'k1,k2', WEBHOOK_SECRET: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' });
    expect(c.CALLBACK_ALLOW_HTTP).to.equal(false);
    expect(c.CALLBACK_ALLOWLIST).to.deep.equal([]);
    expect(c.API_KEYS).to.deep.equal(['k1', 'k2']);
  });

  it('reports every problem at once, naming each variable', () => {
    try {
      parseConfig({ NODE_ENV: 'production', PORT: 'abc', CALLBACK_MAX_RETRIES: '11', LOG_LEVEL: 'loud' });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const fields = (err as ConfigError).issues.map((i) => i.field);
      expect(fields).to.include.members(['PORT', 'CALLBACK_MAX_RETRIES', 'LOG_LEVEL', 'API_KEYS', 'WEBHOOK_SECRET']);
      expect((err as Error).message).to.include('CALLBACK_MAX_RETRIES');
    }
  });

  it('refuses a whsec_ secret whose key part is not base64, naming the variable', () => {
    try {
      parseConfig({ NODE_ENV: 'test', WEBHOOK_SECRET: 'whsec_not base64!', WEBHOOK_SECRET_PREVIOUS: 'whsec_also*bad' });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.field)).to.deep.equal(['WEBHOOK_SECRET', 'WEBHOOK_SECRET_PREVIOUS']);
    }
    expect(parseConfig({ NODE_ENV: 'test', WEBHOOK_SECRET_PREVIOUS: 'any plain secret' }).WEBHOOK_SECRET_PREVIOUS).to.equal('any plain secret');
  });
});
