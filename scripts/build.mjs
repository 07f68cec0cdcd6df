// Compiles to dist/ and copies the Lua scripts the compiled modules read at run time.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
for (const entry of readdirSync('src', { recursive: true })) {
  const file = String(entry);
  if (file.endsWith('.lua')) cpSync(`src/${file}`, `dist/src/${file}`);
}
