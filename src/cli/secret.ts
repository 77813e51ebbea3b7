// The server secret as commands other than start need it: never generated (a secret made by a command run in
// another folder would encrypt keys the server cannot read), and checked against the stored keys.
import type { Config } from '../config.ts';
import { undecryptableKeys } from '../oauth/keys.ts';
import { resolveSecret, secretFile, secretMismatchMessage } from '../secret.ts';
import type { Storage } from '../storage/storage.ts';
import { CommandFailure } from './command.ts';

/** The server's secret, which must open the signing keys already stored. */
export async function serverSecret(config: Config, storage: Storage): Promise<string> {
  const found = resolveSecret(config, { generate: false });
  if (!found) {
    throw new CommandFailure(
      `No server secret: GATEHOUSE_SECRET is not set and there is no ${secretFile(config)}. Run the command with the server's GATEHOUSE_SECRET, or where its data folder is.`,
    );
  }
  if ((await undecryptableKeys(storage, found.secret, Date.now())).length > 0) {
    throw new CommandFailure(secretMismatchMessage(config, false));
  }
  return found.secret;
}
