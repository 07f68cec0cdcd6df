#!/usr/bin/env node
// The `taskhook` binary: registers tsx (the sources are TypeScript) and runs
// src/cli/main.ts, found next to this file so it works from any directory.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
const code = await main(process.argv.slice(2));
// `undefined`: a server is running and its signal handlers decide when to exit.
if (code !== undefined) process.exit(code);
