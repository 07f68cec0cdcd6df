/**
 * winston, configured once by the entry point. JSON for machines, `pretty`
 * for people. Child loggers carry `task_id`, `queue`, `attempt`.
 */
import winston from 'winston';
import type { Config } from './config.js';

export type Logger = winston.Logger;

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>, service = 'taskhook'): Logger {
  const format =
    config.LOG_FORMAT === 'pretty'
      ? winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.colorize(),
          winston.format.printf(({ level, message, timestamp, service: _s, ...rest }) => {
            const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json());
  return gateLevels(
    winston.createLogger({
      level: config.LOG_LEVEL,
      defaultMeta: { service },
      format,
      transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
    }),
  );
}

type LevelMethod = (this: Logger, ...args: unknown[]) => Logger;

/** Where a gated logger keeps its cached level check (see `logs`). */
const ENABLED = Symbol('taskhook.levelEnabled');
type LevelCheck = (self: Logger, level: string) => boolean;

/**
 * winston builds the entry and pushes it through its stream before the level
 * filter drops it: at `LOG_LEVEL=warn` the worker's line per task still cost
 * ~5% of its CPU. Checking the level first makes a disabled call nearly free.
 * winston's own `isLevelEnabled` walks the transports with a new closure on
 * every call, so its answer is kept per configured level (the transports are
 * fixed at creation). Each `createLogger` has its own prototype (children
 * inherit it), so this touches no other logger.
 */
function gateLevels(logger: Logger): Logger {
  const proto = Object.getPrototypeOf(logger) as Record<string, LevelMethod>;
  /** configured level → message level → enabled. */
  const known = new Map<string, Map<string, boolean>>();
  const enabled = (self: Logger, level: string): boolean => {
    let byLevel = known.get(self.level);
    if (!byLevel) known.set(self.level, (byLevel = new Map()));
    let on = byLevel.get(level);
    if (on === undefined) byLevel.set(level, (on = self.isLevelEnabled(level)));
    return on;
  };
  (proto as unknown as Record<symbol, LevelCheck>)[ENABLED] = enabled;
  for (const level of Object.keys(logger.levels)) {
    const write = proto[level];
    if (typeof write !== 'function') continue;
    proto[level] = function gated(this: Logger, ...args: unknown[]): Logger {
      return enabled(this, level) ? write.apply(this, args) : this;
    };
  }
  return logger;
}

/**
 * Whether `logger` writes `level`: for fields that are costly to build (a
 * parsed URL, say) on a path that runs per task but is rarely logged.
 */
export function logs(logger: Logger, level: string): boolean {
  const check = (logger as unknown as Record<symbol, LevelCheck | undefined>)[ENABLED];
  return check ? check(logger, level) : logger.isLevelEnabled(level);
}

/** A logger that drops everything (library use, tests). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

/**
 * Strips credentials, query and fragment from a URL before it is logged or
 * shown: receivers often put tokens there.
 */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
