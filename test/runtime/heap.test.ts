import { execFileSync } from 'node:child_process';
import { expect } from 'chai';

const heapModule = new URL('../../src/runtime/heap.ts', import.meta.url).href;

/**
 * Largest V8 heap of a child process that keeps ~25 MB of objects alive and
 * keeps replacing them (a worker's in-flight tasks, in miniature), after
 * `applyHeapGrowth(percent)`.
 */
function maxHeapMiB(percent: number): number {
  const probe = `
    import { getHeapStatistics } from 'node:v8';
    const { applyHeapGrowth } = await import(${JSON.stringify(heapModule)});
    applyHeapGrowth(${percent});
    const live = new Array(200).fill(null);
    let max = 0;
    for (let i = 0; i < 4000; i++) {
      const chunk = [];
      for (let j = 0; j < 1000; j++) chunk.push({ j, s: 'x' + j + i });
      live[i % 200] = chunk;
      if (i % 50 === 0) max = Math.max(max, getHeapStatistics().total_heap_size);
    }
    process.stdout.write(String(max / 2 ** 20));`;
  // A small young generation, so the heap size read is the old generation's.
  const out = execFileSync(process.execPath, ['--max-semi-space-size=4', '--import', 'tsx', '--input-type=module', '-e', probe], { encoding: 'utf8' });
  return Number(out);
}

describe('runtime: worker heap growth', function () {
  this.timeout(30_000);

  it('a fixed growth step keeps the heap well below what V8 grows to by itself', () => {
    const adaptive = maxHeapMiB(0);
    const capped = maxHeapMiB(60);
    expect(capped).to.be.above(20); // the live set is really there
    expect(capped).to.be.below(adaptive * 0.75);
  });
});
