/**
 * The registry: every task this build knows, listed explicitly.
 * To add a task: write `tasks/<queue>/<action>.ts` with `defineTask`, add one
 * line here, and a test under `test/tasks/`.
 */
import { createRegistry } from '../src/tasks/registry.js';
import echo from './debug/echo.js';
import fail from './debug/fail.js';
import sleep from './debug/sleep.js';

export const registry = createRegistry([echo, fail, sleep]);
