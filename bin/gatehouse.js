#!/usr/bin/env node
// The `gatehouse` command. Node 24 runs the TypeScript source directly (type stripping); the compile cache
// (in the system's temp folder) spares later starts most of the parsing, so it is enabled before the rest loads.
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
await main();
