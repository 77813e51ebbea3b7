// Headless Chromium for end-to-end tests, driven by playwright-core against the machine's own browser
// (CHROMIUM_PATH, /usr/bin/chromium or /usr/bin/chromium-browser). Never downloads a browser.

import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** Thrown when no Chromium is available outside CI; callers may turn it into a skip. */
export class BrowserUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrowserUnavailableError';
  }
}

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findChromium(): string | undefined {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit) {
    // An explicitly configured path that does not work is a configuration error, never a skip.
    if (!isExecutable(explicit)) throw new Error(`CHROMIUM_PATH=${explicit} is not an executable file`);
    return explicit;
  }
  return CANDIDATES.find(isExecutable);
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) {
    const message = `Chromium not found (looked at ${CANDIDATES.join(', ')}); install Debian's chromium package or set CHROMIUM_PATH`;
    if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
    throw new BrowserUnavailableError(message);
  }
  return chromium.launch({ executablePath, headless: true, args: ARGS });
}

/** Chromium, or a reason to skip (only outside CI: under CI=true a missing browser is a failure). */
export async function browserOrSkipReason(): Promise<{ browser?: Browser; skipReason?: string }> {
  try {
    return { browser: await launchBrowser() };
  } catch (error) {
    if (!(error instanceof BrowserUnavailableError) || process.env.CI === 'true') throw error;
    return { skipReason: error.message };
  }
}

/**
 * Where the browser tests save their screenshots: test-results/screenshots/ (ignored by git) on every run, so
 * that a test run leaves the checkout as it found it; docs/screenshots/ (the README's pictures) when run as
 * `npm run screenshots` (GATEHOUSE_UPDATE_SCREENSHOTS=1).
 */
export const SCREENSHOT_DIR = fileURLToPath(
  new URL(
    process.env.GATEHOUSE_UPDATE_SCREENSHOTS === '1'
      ? '../../docs/screenshots/'
      : '../../test-results/screenshots/',
    import.meta.url,
  ),
);
