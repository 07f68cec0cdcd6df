import { expect } from 'chai';
import { createReadStream } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { testConfig, type Config } from '../../src/config.js';
import { TaskhookError } from '../../src/errors.js';
import { createEgressAgent, egressPolicyFromConfig } from '../../src/egress/index.js';
import { checkRelativePath, resolveInput } from '../../src/media/input.js';
import { getFixtures, type Fixtures } from '../helpers/fixtures.js';
import { makeTaskContext } from '../helpers/task-context.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(TaskhookError);
    return (err as TaskhookError).code;
  }
  return 'resolved';
}

describe('media/input', () => {
  let fx: Fixtures;
  let root: string;
  let inputDir: string;
  let server: http.Server;
  let base: string;
  /** Bytes the /endless route managed to write before the client hung up. */
  let endlessSent = 0;
  let endlessClosed: Promise<void>;

  before(async () => {
    fx = await getFixtures();
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-input-'));
    inputDir = path.join(root, 'in');
    await mkdir(path.join(inputDir, 'sub'), { recursive: true });
    await writeFile(path.join(root, 'secret.txt'), 'outside the input dir');
    await writeFile(path.join(inputDir, 'sub', 'clip.mp4'), await readFile(fx.video));
    await symlink(path.join(root, 'secret.txt'), path.join(inputDir, 'escape.txt'));
    await symlink(path.join(inputDir, 'sub', 'clip.mp4'), path.join(inputDir, 'inside-link.mp4'));

    server = http.createServer((req, res) => {
      const route = new URL(req.url ?? '/', 'http://x').pathname;
      if (route === '/video.mp4') {
        res.setHeader('content-type', 'video/mp4');
        createReadStream(fx.video).pipe(res);
      } else if (route === '/declared-huge') {
        res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
        res.write(Buffer.alloc(1024));
      } else if (route === '/endless') {
        // No Content-Length: only counting bytes as they arrive can stop this.
        endlessClosed = new Promise((resolve) => res.on('close', resolve));
        endlessSent = 0;
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = (): void => {
          while (!res.destroyed && endlessSent < 50 * 1024 * 1024) {
            endlessSent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      } else if (route === '/stall') {
        res.writeHead(200);
        res.write('x');
      } else {
        res.writeHead(404).end('nope');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  function cfg(extra: Record<string, string> = {}): Config {
    return testConfig({ MEDIA_INPUT_DIR: inputDir, ...extra });
  }

  async function withCtx<T>(config: Config, fn: (c: ReturnType<typeof makeTaskContext>) => Promise<T>): Promise<T> {
    const c = makeTaskContext(config);
    try {
      return await fn(c);
    } finally {
      await c.cleanup();
    }
  }

  describe('local paths', () => {
    it('resolves a relative path (and a symlink that stays inside)', async () => {
      await withCtx(cfg(), async ({ ctx }) => {
        const a = await resolveInput('sub/clip.mp4', ctx);
        expect(a.source).to.equal('file');
        expect(a.size_bytes).to.equal((await stat(fx.video)).size);
        const b = await resolveInput('inside-link.mp4', ctx);
        expect(b.path).to.equal(a.path);
      });
    });

    it('refuses ../, absolute paths and symlinks out of the input dir (invalid_input)', async () => {
      await withCtx(cfg(), async ({ ctx }) => {
        expect(await codeOf(resolveInput('../secret.txt', ctx))).to.equal('invalid_input');
        expect(await codeOf(resolveInput('sub/../../secret.txt', ctx))).to.equal('invalid_input');
        expect(await codeOf(resolveInput(path.join(root, 'secret.txt'), ctx))).to.equal('invalid_input');
        expect(await codeOf(resolveInput('escape.txt', ctx))).to.equal('invalid_input');
        expect(await codeOf(resolveInput('sub', ctx))).to.equal('invalid_input');
      });
      expect(() => checkRelativePath('C:\\windows')).to.throw(TaskhookError);
      expect(() => checkRelativePath('a\0b')).to.throw(TaskhookError);
    });

    it('reports a missing file as input_unreachable and a large one as limit_exceeded', async () => {
      await withCtx(cfg(), async ({ ctx }) => {
        expect(await codeOf(resolveInput('nope.mp4', ctx))).to.equal('input_unreachable');
      });
      await withCtx(cfg({ MEDIA_MAX_INPUT_BYTES: '1000' }), async ({ ctx }) => {
        expect(await codeOf(resolveInput('sub/clip.mp4', ctx))).to.equal('limit_exceeded');
      });
    });
  });

  describe('URLs', () => {
    it('downloads from a loopback http server into the task temp dir', async () => {
      await withCtx(cfg(), async (c) => {
        const got = await resolveInput(`${base}/video.mp4?token=abc`, c.ctx);
        expect(got.source).to.equal('url');
        expect(path.dirname(got.path)).to.equal(c.tempDirPath());
        expect(path.extname(got.path)).to.equal('.mp4');
        expect((await readFile(got.path)).equals(await readFile(fx.video))).to.equal(true);
        expect(got.size_bytes).to.equal((await stat(fx.video)).size);
      });
    });

    it('maps 404 and a closed port to input_unreachable', async () => {
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      await withCtx(cfg(), async ({ ctx }) => {
        const err404 = await resolveInput(`${base}/missing.mp4`, ctx).catch((e: TaskhookError) => e);
        expect((err404 as TaskhookError).code).to.equal('input_unreachable');
        expect((err404 as TaskhookError).message).to.include('HTTP 404');
        const refused = await resolveInput(`http://127.0.0.1:${port}/x.mp4`, ctx).catch((e: TaskhookError) => e);
        expect((refused as TaskhookError).code).to.equal('input_unreachable');
        expect((refused as TaskhookError).message).to.include('connection refused');
      });
    });

    it('refuses a declared Content-Length over the cap without reading the body', async () => {
      await withCtx(cfg({ MEDIA_MAX_INPUT_BYTES: '100000' }), async ({ ctx }) => {
        expect(await codeOf(resolveInput(`${base}/declared-huge`, ctx))).to.equal('limit_exceeded');
      });
    });

    it('stops reading an undeclared body as soon as it passes the cap', async () => {
      await withCtx(cfg({ MEDIA_MAX_INPUT_BYTES: '200000' }), async ({ ctx }) => {
        expect(await codeOf(resolveInput(`${base}/endless`, ctx))).to.equal('limit_exceeded');
      });
      await endlessClosed;
      // 50 MiB were on offer; socket buffers allow a few MiB at most before the hang-up.
      expect(endlessSent).to.be.lessThan(20 * 1024 * 1024);
    });

    it('gives up after MEDIA_DOWNLOAD_TIMEOUT_MS with input_unreachable', async () => {
      const started = Date.now();
      await withCtx(cfg({ MEDIA_DOWNLOAD_TIMEOUT_MS: '300' }), async ({ ctx }) => {
        const err = await resolveInput(`${base}/stall`, ctx).catch((e: TaskhookError) => e);
        expect((err as TaskhookError).code).to.equal('input_unreachable');
        expect((err as TaskhookError).message).to.include('MEDIA_DOWNLOAD_TIMEOUT_MS');
      });
      expect(Date.now() - started).to.be.at.least(250);
    });

    it('passes the task abort reason through unchanged', async () => {
      await withCtx(cfg(), async (c) => {
        const reason = new TaskhookError('timeout', 'task timed out');
        setTimeout(() => c.abort(reason), 100);
        const err = await resolveInput(`${base}/stall`, c.ctx).catch((e: unknown) => e);
        expect(err).to.equal(reason);
      });
    });

    it('goes through the guarded egress agent: allowed loopback downloads, blocked otherwise', async () => {
      for (const [allowlist, expected] of [['127.0.0.0/8', 'resolved'], ['10.0.0.0/8', 'destination_blocked']] as const) {
        const config = cfg({ CALLBACK_ALLOWLIST: allowlist });
        const agent = createEgressAgent(egressPolicyFromConfig(config));
        const c = makeTaskContext(config, { dispatcher: agent });
        try {
          expect(await codeOf(resolveInput(`${base}/video.mp4`, c.ctx)), allowlist).to.equal(expected);
        } finally {
          await c.cleanup();
          await agent.close();
        }
      }
    });

    it('refuses http:// when CALLBACK_ALLOW_HTTP is off, and other schemes always', async () => {
      await withCtx(cfg({ CALLBACK_ALLOW_HTTP: 'false' }), async ({ ctx }) => {
        expect(await codeOf(resolveInput(`${base}/video.mp4`, ctx))).to.equal('invalid_input');
        expect(await codeOf(resolveInput('ftp://127.0.0.1/x.mp4', ctx))).to.equal('invalid_input');
      });
    });
  });
});
