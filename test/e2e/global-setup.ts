// Builds the server and the pages once before the browser tests (set E2E_SKIP_BUILD=1 to reuse a build).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const built = existsSync(path.join(root, 'dist', 'src', 'server.js')) && existsSync(path.join(root, 'dist', 'web', 'index.html'));
  if (process.env['E2E_SKIP_BUILD'] === '1' && built) return;
  // Vitest sets NODE_ENV=test, which would make Vite build the development bundle.
  const { NODE_ENV: _ignored, ...env } = process.env;
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', env });
}
