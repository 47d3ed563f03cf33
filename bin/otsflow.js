#!/usr/bin/env node
// The compiled CLI (built by `npm install` through the `prepare` script).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('otsflow: the compiled CLI is missing; run `npm install` (or `npm run build`) in the otsflow folder first.');
    process.exit(1);
  }
  throw err;
});
