// A concurrency limit for work that runs on libuv's thread pool. The pool (UV_THREADPOOL_SIZE, 4 by default) also
// runs every fs call, and SQLite's durability waits on one (the WAL's fdatasync, storage/sqlite.ts): if password
// hashing (0.6 s a check at scrypt N=2^17) could take every thread, a burst of sign-ins would hold each token
// request's commit behind it. Queued work starts in arrival order.

export interface ConcurrencyLimit {
  /** Runs `task` once fewer than the limit are running. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now (for tests and metrics). */
  readonly running: number;
}

export function concurrencyLimit(max: number): ConcurrencyLimit {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    get running() {
      return running;
    },
    async run(task) {
      if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
      else running += 1;
      try {
        return await task();
      } finally {
        // Hand the slot straight to the next task (running stays the same), or free it.
        const next = waiting.shift();
        if (next) next();
        else running -= 1;
      }
    },
  };
}

/** libuv's thread pool size for this process: UV_THREADPOOL_SIZE if set (1 to 1024), else 4. */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}
