#!/usr/bin/env node
// The compiled CLI (built by `npm install` through the `prepare` script). In a clone, run it as
// `node bin/otsflow.js …` (or `npm link` once for `otsflow`); `npx otsflow` there reinstalls the
// project into npm's npx cache first (see README).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    // "Cannot find module '<what>' imported from <where>": what is missing comes first
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec(String(err.message))?.[1] ?? '';
    if (/dist[\\/]cli[\\/]main\.js$/.test(missing)) {
      console.error('otsflow: the compiled CLI is missing; run `npm install` (or `npm run build`) in the otsflow folder first.');
      process.exit(1);
    }
    if (missing !== '' && !missing.startsWith('.') && !missing.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(missing)) {
      console.error(`otsflow: the dependency '${missing}' is not installed; run \`npm install\` in the otsflow folder first.`);
      process.exit(1);
    }
  }
  throw err;
});
