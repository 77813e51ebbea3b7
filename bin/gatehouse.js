#!/usr/bin/env node
// The `gatehouse` command. Node 24 runs the TypeScript source directly (type stripping); the compile cache
// (in the system's temp folder) spares later starts most of the parsing, so it is enabled before the rest loads.
import module from 'node:module';
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
module.enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
await main();
