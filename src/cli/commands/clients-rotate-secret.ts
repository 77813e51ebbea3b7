import { UserInputError } from '../../accounts/users.ts';
import { rotateClientSecret } from '../../applications/clients.ts';
import { type Command, CommandFailure, printJson, UsageError } from '../command.ts';
import { clientId } from './clients-disable.ts';

export const clientsRotateSecret: Command = {
  words: ['clients', 'rotate-secret'],
  summary: 'Give a confidential client a new secret; the old one keeps working for an overlap',
  arguments: 'CLIENT_ID',
  options: {
    'overlap-seconds': {
      type: 'string',
      value: 'N',
      description:
        'How long the old secret keeps working (default GATEHOUSE_SECRET_ROTATION_OVERLAP); 0 stops it at once, for a leaked secret.',
    },
  },
  details:
    'Prints {"client_id", "client_secret", "previous_secret_expires_at"} as JSON: the secret is shown once, and only its SHA-256 is stored.',
  database: 'existing',
  async run({ values, positionals, io, config, storage }) {
    const id = clientId(positionals);
    const overlap =
      values['overlap-seconds'] === undefined
        ? config().secretRotationOverlap
        : Number(values['overlap-seconds']);
    let outcome: Awaited<ReturnType<typeof rotateClientSecret>>;
    try {
      outcome = await rotateClientSecret(
        await storage(),
        Date.now(),
        id,
        { actor: { kind: 'cli' } },
        overlap,
      );
    } catch (error) {
      if (error instanceof UserInputError) throw new UsageError(`--overlap-seconds: ${error.message}`);
      throw error;
    }
    if (outcome.status === 'not_found') throw new CommandFailure(`No client with the id ${id}.`);
    if (outcome.status !== 'ok') {
      throw new CommandFailure(outcome.status === 'conflict' ? outcome.reason : 'Not rotated.');
    }
    const expires = outcome.value.previousSecretExpiresAt;
    printJson(io, {
      client_id: id,
      client_secret: outcome.secret,
      previous_secret_expires_at: expires === null ? null : new Date(expires).toISOString(),
    });
    io.stderr('The client_secret is shown once: store it now.\n');
    return 0;
  },
};
