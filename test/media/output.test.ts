import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testConfig, type Config } from '../../src/config.js';
import { contentTypeFor, isOutputFilename, moveToOutput, writeOutput } from '../../src/media/output.js';
import { pruneOutputs } from '../../src/media/retention.js';

describe('media/output and media/retention', () => {
  let root: string;
  let config: Config;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-out-'));
    config = testConfig({ MEDIA_OUTPUT_DIR: root, PUBLIC_BASE_URL: 'https://media.example.test/', MEDIA_RETENTION_HOURS: '2' });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('writes outputs atomically and describes them with a download URL', async () => {
    const id = randomUUID();
    const file = await writeOutput(config, id, 'peaks.json', '{"a":1}');
    expect(file).to.deep.equal({
      filename: 'peaks.json',
      filepath: path.join(root, id, 'peaks.json'),
      size_bytes: 7,
      content_type: 'application/json',
      download_url: `https://media.example.test/api/v1/files/${id}/peaks.json`,
    });
    // No temporary name is left behind.
    expect(await readdir(path.join(root, id))).to.deep.equal(['peaks.json']);
  });

  it('moves a finished temp file into the task directory', async () => {
    const id = randomUUID();
    const tmp = path.join(root, 'scratch.bin');
    await writeFile(tmp, Buffer.alloc(10, 7));
    const file = await moveToOutput(config, id, tmp, 'video.mp4');
    expect(file.content_type).to.equal('video/mp4');
    expect((await readFile(file.filepath)).length).to.equal(10);
  });

  it('refuses names that are not plain file names or ids that are not UUIDs', async () => {
    for (const bad of ['../x', '.hidden', 'a/b', 'a\\b', '', '..']) expect(isOutputFilename(bad), bad).to.equal(false);
    let thrown: unknown;
    await writeOutput(config, 'not-a-uuid', 'x.png', 'x').catch((e: unknown) => (thrown = e));
    expect(thrown).to.be.instanceOf(TypeError);
    await writeOutput(config, randomUUID(), '../x.png', 'x').catch((e: unknown) => (thrown = e));
    expect(thrown).to.be.instanceOf(TypeError);
    expect(contentTypeFor('a.WEBP')).to.equal('image/webp');
    expect(contentTypeFor('a.bin')).to.equal('application/octet-stream');
  });

  it('prunes task directories older than MEDIA_RETENTION_HOURS and nothing else', async () => {
    const now = Date.now();
    const old = randomUUID();
    const fresh = randomUUID();
    await writeOutput(config, old, 'a.png', 'x');
    await writeOutput(config, fresh, 'a.png', 'x');
    await mkdir(path.join(root, 'not-a-task'));
    const past = new Date(now - 3 * 3_600_000);
    await utimes(path.join(root, old, 'a.png'), past, past);
    await utimes(path.join(root, old), past, past);
    await utimes(path.join(root, 'not-a-task'), past, past);

    expect(await pruneOutputs(config, now)).to.equal(1);
    expect((await readdir(root)).sort()).to.deep.equal([fresh, 'not-a-task'].sort());
    // Later, the fresh one ages out too.
    expect(await pruneOutputs(config, now + 3 * 3_600_000)).to.equal(1);
    expect(await pruneOutputs(testConfig({ MEDIA_OUTPUT_DIR: path.join(root, 'missing') }), now)).to.equal(0);
  });
});
