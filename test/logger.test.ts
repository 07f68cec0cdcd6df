import { expect } from 'chai';
import sinon from 'sinon';
import { createLogger, logs, silentLogger } from '../src/logger.js';

describe('logger', () => {
  afterEach(() => sinon.restore());

  it('drops calls below the level before winston builds an entry, in children too', () => {
    const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'json' });
    const write = sinon.stub(logger, 'write').returns(true);
    const child = logger.child({ task_id: 't1' });
    logger.info('not written');
    child.debug('not written');
    expect(write.callCount).to.equal(0);
    child.warn('written', { n: 1 });
    logger.error('written too');
    expect(write.callCount).to.equal(2);
    const first = write.firstCall.args[0] as unknown as Record<string, unknown>;
    expect(first).to.include({ message: 'written', level: 'warn', task_id: 't1', n: 1 });
  });

  it('keeps every level at and above the configured one', () => {
    const logger = createLogger({ LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' });
    const write = sinon.stub(logger, 'write').returns(true);
    logger.debug('d');
    logger.info('i');
    logger.silly('s');
    expect(write.getCalls().map((c) => (c.args[0] as unknown as { message: string }).message)).to.deep.equal(['d', 'i']);
  });

  it('follows a level changed after the first calls', () => {
    const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'json' });
    const write = sinon.stub(logger, 'write').returns(true);
    logger.info('dropped');
    logger.level = 'info';
    logger.info('kept');
    logger.level = 'error';
    logger.warn('dropped too');
    expect(write.getCalls().map((c) => (c.args[0] as unknown as { message: string }).message)).to.deep.equal(['kept']);
  });

  it('logs() says whether a level is written, for children and plain winston loggers too', () => {
    const logger = createLogger({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
    const child = logger.child({ task_id: 't1' });
    expect([logs(child, 'debug'), logs(child, 'info'), logs(logger, 'error')]).to.deep.equal([false, true, true]);
    logger.level = 'debug';
    expect(logs(child, 'debug')).to.equal(true);
    expect(logs(silentLogger(), 'debug')).to.equal(false);
  });
});
