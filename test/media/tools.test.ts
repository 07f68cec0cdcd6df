import { expect } from 'chai';
import { testConfig } from '../../src/config.js';
import { TaskhookError } from '../../src/errors.js';
import { checkMediaTools, requiredTools, toolVersion } from '../../src/media/tools.js';
import { registry } from '../../tasks/index.js';

describe('media/tools', () => {
  it('lists the tools needed by the tasks of the consumed queues', () => {
    expect(requiredTools(registry, ['video'])).to.deep.equal(['ffmpeg', 'ffprobe']);
    expect(requiredTools(registry, ['image', 'debug'])).to.deep.equal([]);
  });

  it('passes when ffmpeg and ffprobe run', async () => {
    await checkMediaTools(testConfig(), registry, ['video', 'audio']);
    expect(await toolVersion('ffmpeg')).to.match(/^ffmpeg version/);
  });

  it('throws a DependencyError with install advice when a needed tool is missing', async () => {
    const config = testConfig({ FFMPEG_PATH: '/nonexistent/ffmpeg' });
    const err = await checkMediaTools(config, registry, ['audio']).catch((e: TaskhookError) => e);
    expect(err).to.be.instanceOf(TaskhookError);
    expect((err as TaskhookError).code).to.equal('media_tools_missing');
    expect((err as TaskhookError).message).to.include('/nonexistent/ffmpeg');
    expect((err as TaskhookError).message).to.not.include('ffprobe (');
    expect((err as TaskhookError).message).to.match(/apt-get install ffmpeg.*brew install ffmpeg.*FFMPEG_PATH/s);
  });

  it('does not care about missing tools when no consumed queue needs them', async () => {
    const config = testConfig({ FFMPEG_PATH: '/nonexistent/ffmpeg', FFPROBE_PATH: '/nonexistent/ffprobe' });
    await checkMediaTools(config, registry, ['image', 'debug']);
  });
});
