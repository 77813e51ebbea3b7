// One bcrypt check per message, off the event loop. bcryptjs is plain JavaScript: on the main thread a cost-12
// check would hold the event loop for about 0.4 s (its async API yields only every 100 ms), stalling every
// token request meanwhile. See foreign-hashes.ts.
import { parentPort } from 'node:worker_threads';
import { compareSync } from 'bcryptjs';

parentPort?.on('message', ({ password, hash }: { password: string; hash: string }) => {
  parentPort?.postMessage(compareSync(password, hash));
});
