/**
 * The Dockerfile and docker-compose.yml, read as text (no Docker daemon in
 * tests): the image can write the media directories compose points at, and
 * every long-running service comes back after a crash or a host reboot.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { RECOMMENDED_HASH_MAX_VALUE } from '../src/runtime/redis.js';

const ROOT = new URL('..', import.meta.url);
const dockerfile = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
const compose = readFileSync(new URL('docker-compose.yml', ROOT), 'utf8');

/** `name → block text` of each service under the top-level `services:` key. */
function services(yaml: string): Map<string, string> {
  const out = new Map<string, string>();
  const section = /^services:\n([\s\S]*?)(?=^\S|(?![\s\S]))/m.exec(yaml)?.[1] ?? '';
  for (const m of section.matchAll(/^ {2}([\w-]+):\n((?: {4}.*\n|\s*\n)*)/gm)) out.set(m[1] as string, m[2] as string);
  return out;
}

describe('Docker image and compose file', () => {
  it('creates every MEDIA_*_DIR compose uses, owned by node, before USER node (a fresh named volume copies it)', () => {
    const dirs = [...compose.matchAll(/^\s+MEDIA_\w+_DIR:\s*(\S+)\s*$/gm)].map((m) => m[1] as string);
    expect(dirs, 'compose sets the media directories').to.include.members(['/data/input', '/data/output']);
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const userAt = runtimeStage.search(/^USER node$/m);
    expect(userAt, 'the runtime image runs as node').to.be.greaterThan(0);
    // The RUN steps before USER node (run as root), each on one line.
    const rootSteps = runtimeStage.slice(0, userAt).replace(/\\\n/g, ' ').split('\n').filter((l) => /^RUN /.test(l)).join('\n');
    for (const dir of dirs) {
      expect(rootSteps, `mkdir ${dir}`).to.match(new RegExp(`mkdir -p [^\\n]*${dir}(\\s|$)`));
      const owned = [...rootSteps.matchAll(/chown -R node:node ((?:\/\S+ ?)+)/g)].flatMap((m) => (m[1] as string).trim().split(' '));
      expect(owned.some((o) => dir === o || dir.startsWith(`${o}/`)), `${dir} owned by node`).to.equal(true);
    }
  });

  it('gives every service a restart policy', () => {
    const all = services(compose);
    expect([...all.keys()].sort()).to.deep.equal(['api', 'redis', 'worker']);
    for (const [name, block] of all) expect(block, name).to.match(/^ {4}restart: unless-stopped$/m);
  });

  it('runs Redis with the settings docs/operations.md asks for: AOF, noeviction, the recommended hash encoding', () => {
    const command = /^ {4}command: (\[.*\])$/m.exec(services(compose).get('redis') ?? '')?.[1] ?? '[]';
    const args = JSON.parse(command) as string[];
    const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(value('--appendonly')).to.equal('yes');
    expect(value('--maxmemory-policy')).to.equal('noeviction');
    expect(value('--hash-max-listpack-value')).to.equal(String(RECOMMENDED_HASH_MAX_VALUE));
  });
});
