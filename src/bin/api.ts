/** `npm run api`: the HTTP API alone. Workers run elsewhere (`npm run worker`). Same as `taskhook api`. */
import { runApi } from '../runtime/run.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';

loadDotEnv();
runApi(process.env).catch(fatal);
