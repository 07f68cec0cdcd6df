import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseRange } from '../../../src/api/routes/files.js';
import { writeOutput } from '../../../src/media/output.js';
import { KEY_A, KEY_B, call, startApi, type Harness } from '../harness.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Raw node:http so paths are sent exactly as written (no client-side normalisation of `..`). */
function send(base: string, method: string, rawPath: string, headers: Record<string, string> = {}, key = KEY_A): Promise<Reply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path: rawPath, headers: { 'x-api-key': key, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The real app (files router wired as in api-process), private Redis, outputs under a temp dir. */
describe('api/routes/files', () => {
  let root: string;
  let h: Harness;
  let base: string;
  /** A task submitted with KEY_A, whose outputs are written below. */
  let id: string;
  const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-files-'));
    h = await startApi({ MEDIA_OUTPUT_DIR: path.join(root, 'out') }, { withFiles: true });
    base = h.base;
    const submitted = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo' } });
    expect(submitted.status, submitted.text).to.equal(202);
    id = submitted.json.task_id as string;
    await writeOutput(h.config, id, 'thumb.jpg', content);
    await writeOutput(h.config, id, 'empty.json', '');
    await writeFile(path.join(root, 'secret.txt'), 'secret');
    await symlink(path.join(root, 'secret.txt'), path.join(root, 'out', id, 'link.txt'));
  });

  after(async () => {
    await h.close();
    await rm(root, { recursive: true, force: true });
  });

  const url = (name: string): string => `/api/v1/files/${id}/${name}`;

  it('serves a file with its type, length and Accept-Ranges', async () => {
    const res = await send(base, 'GET', url('thumb.jpg'));
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('image/jpeg');
    expect(res.headers['content-length']).to.equal('1000');
    expect(res.headers['accept-ranges']).to.equal('bytes');
    expect(res.body.equals(content)).to.equal(true);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await send(base, 'HEAD', url('thumb.jpg'));
    expect(res.status).to.equal(200);
    expect(res.headers['content-length']).to.equal('1000');
    expect(res.headers['content-type']).to.equal('image/jpeg');
    expect(res.body.length).to.equal(0);
  });

  it('serves single ranges with 206 and Content-Range', async () => {
    const mid = await send(base, 'GET', url('thumb.jpg'), { Range: 'bytes=10-19' });
    expect(mid.status).to.equal(206);
    expect(mid.headers['content-range']).to.equal('bytes 10-19/1000');
    expect(mid.headers['content-length']).to.equal('10');
    expect(mid.body.equals(content.subarray(10, 20))).to.equal(true);

    const tail = await send(base, 'GET', url('thumb.jpg'), { Range: 'bytes=-5' });
    expect(tail.status).to.equal(206);
    expect(tail.headers['content-range']).to.equal('bytes 995-999/1000');
    expect(tail.body.equals(content.subarray(995))).to.equal(true);

    const open = await send(base, 'GET', url('thumb.jpg'), { Range: 'bytes=990-' });
    expect(open.body.length).to.equal(10);
  });

  it('answers 416 with Content-Range */size for an unsatisfiable range', async () => {
    const res = await send(base, 'GET', url('thumb.jpg'), { Range: 'bytes=5000-6000' });
    expect(res.status).to.equal(416);
    expect(res.headers['content-range']).to.equal('bytes */1000');
  });

  it('ignores multi-range and malformed Range headers (full 200)', async () => {
    const res = await send(base, 'GET', url('thumb.jpg'), { Range: 'bytes=0-1,5-6' });
    expect(res.status).to.equal(200);
    expect(res.body.length).to.equal(1000);
  });

  it('serves an empty file as 200 with length 0', async () => {
    const res = await send(base, 'GET', url('empty.json'));
    expect(res.status).to.equal(200);
    expect(res.headers['content-length']).to.equal('0');
  });

  it('answers 404 problem+json for missing files, bad ids, symlinks and traversal attempts', async () => {
    const attempts = [
      url('nope.jpg'),
      `/api/v1/files/${randomUUID()}/thumb.jpg`,
      '/api/v1/files/not-a-uuid/thumb.jpg',
      url('link.txt'),
      url('..%2F..%2Fsecret.txt'),
      url('%2e%2e'),
      url('.hidden'),
      `/api/v1/files/${id}/../../secret.txt`,
      `/api/v1/files/..%2F${id}/thumb.jpg`,
    ];
    for (const p of attempts) {
      const res = await send(base, 'GET', p);
      expect(res.status, p).to.equal(404);
      expect(res.body.toString()).to.not.include('secret');
    }
    const one = await send(base, 'GET', url('nope.jpg'));
    expect(one.headers['content-type']).to.include('application/problem+json');
    expect(JSON.parse(one.body.toString())).to.include({ status: 404, code: 'not_found' });
  });

  it("another API key's task is the same 404 as an unknown task; so is an output with no task record", async () => {
    const own = await send(base, 'GET', url('thumb.jpg'));
    expect(own.status).to.equal(200);
    const unknown = await send(base, 'GET', `/api/v1/files/${randomUUID()}/thumb.jpg`, {}, KEY_B);
    expect(unknown.status).to.equal(404);
    for (const method of ['GET', 'HEAD']) {
      const other = await send(base, method, url('thumb.jpg'), { Range: 'bytes=0-9' }, KEY_B);
      expect(other.status, method).to.equal(404);
      expect(other.headers['content-range'], method).to.equal(undefined);
      if (method === 'GET') expect(other.body.toString()).to.equal(unknown.body.toString());
    }
    // Outputs on disk whose task record is gone (retention) are served to nobody.
    const orphan = randomUUID();
    await writeOutput(h.config, orphan, 'thumb.jpg', content);
    expect((await send(base, 'GET', `/api/v1/files/${orphan}/thumb.jpg`)).status).to.equal(404);
  });

  it('parseRange handles the edge cases', () => {
    expect(parseRange(undefined, 10)).to.equal(null);
    expect(parseRange('bytes=0-0', 10)).to.deep.equal({ start: 0, end: 0 });
    expect(parseRange('bytes=5-100', 10)).to.deep.equal({ start: 5, end: 9 });
    expect(parseRange('bytes=-100', 10)).to.deep.equal({ start: 0, end: 9 });
    expect(parseRange('bytes=10-', 10)).to.equal('unsatisfiable');
    expect(parseRange('bytes=-0', 10)).to.equal('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).to.equal('unsatisfiable');
    expect(parseRange('bytes=7-3', 10)).to.equal(null);
    expect(parseRange('items=0-1', 10)).to.equal(null);
  });
});
