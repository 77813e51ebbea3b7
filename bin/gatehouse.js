#!/usr/bin/env node
// The `gatehouse` command. Node 24 runs the TypeScript source directly (type stripping).
import { main } from '../src/cli/main.ts';

await main();
