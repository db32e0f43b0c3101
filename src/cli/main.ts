#!/usr/bin/env node
// The `dlbind` command. In a clone: `npx tsx src/cli/main.ts demo`; installed: `dlbind demo`.
import { run } from './program.js';

// `dlbind inspect big.so | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// No top-level await: the published command is a CommonJS bundle (see scripts/build.mjs).
void run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
