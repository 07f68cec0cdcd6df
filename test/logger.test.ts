import { expect } from 'chai';
import sinon from 'sinon';
import { createLogger } from '../src/logger.js';

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
});
