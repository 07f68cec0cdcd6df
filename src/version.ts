/**
 * The package version, read from package.json at build time (a JSON import,
 * so there is no file I/O at import time), and the User-Agent sent with
 * every outbound callback.
 */
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;

/** Sent on every callback so receivers can recognise (and allow-list) us. */
export const USER_AGENT = `taskhook/${VERSION}`;
