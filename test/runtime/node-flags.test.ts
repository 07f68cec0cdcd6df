import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { WORKER_NODE_FLAGS } from '../../src/runtime/node-flags.js';

const root = new URL('../../', import.meta.url);

describe('runtime: worker Node flags', () => {
  it('are on every worker start command', () => {
    const compose = readFileSync(new URL('docker-compose.yml', root), 'utf8');
    const workerCommand = /\n {2}worker:\n[\s\S]*?\n {4}command: (\[.*\])/.exec(compose)?.[1];
    expect(workerCommand, 'docker-compose.yml worker command').to.be.a('string');
    const script = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts.worker;
    for (const flag of WORKER_NODE_FLAGS) {
      expect(JSON.parse(workerCommand as string) as string[]).to.include(flag);
      expect(script?.split(' ')).to.include(flag);
    }
  });

  it('are accepted by this Node and cap the young generation', () => {
    const probe = `
      let keep = [];
      for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
      const s = require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
      process.stdout.write(String(s.space_size));`;
    const newSpace = (flags: readonly string[]) => Number(execFileSync(process.execPath, [...flags, '-e', probe], { encoding: 'utf8' }));
    const capped = newSpace(WORKER_NODE_FLAGS);
    expect(capped).to.be.at.most(8 * 2 ** 20);
    expect(newSpace([])).to.be.above(capped);
  });
});
