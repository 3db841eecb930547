// npm runs `prepare` after every install. A clone with its dev dependencies builds dist/ here, so that
// `npm install && npm start` works; an install without them (`npm ci --omit=dev`, a production image that copies
// a dist/ built in an earlier stage) has no compiler and skips the build instead of failing the install.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const missing = ['typescript', 'vite'].filter((name) => {
  try {
    require.resolve(`${name}/package.json`);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  console.log(
    `agentgate: not building dist/ (${missing.join(' and ')} not installed: dev dependencies were omitted). ` +
      'Build it where they are installed (npm run build) and copy dist/ here.',
  );
  process.exit(0);
}
const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
process.exit(build.status ?? 1);
