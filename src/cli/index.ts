#!/usr/bin/env node
import { redactProviderKeys } from '../key-formats.js';
import { main } from './main.js';

main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(redactProviderKeys(`keyflip: ${error instanceof Error ? error.message : String(error)}\n`));
    process.exitCode = 2;
  },
);
