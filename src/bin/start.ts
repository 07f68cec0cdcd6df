/**
 * `npm start`: API and worker in one process, for development. Starts a
 * private redis-server when none answers locally and one is installed.
 * Same as `taskhook all`.
 */
import { runAll } from '../runtime/run.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';

loadDotEnv();
runAll(process.env).catch(fatal);
