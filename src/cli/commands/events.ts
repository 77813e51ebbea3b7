import { configFrom } from '../../config-file.ts';
import { OAuthError } from '../../errors.ts';
import { eachSecurityEvent, parseEventFilter, securityEventJson } from '../../oauth/security-events.ts';
import { openStorage } from '../../storage/open.ts';
import { type Command, UsageError } from '../command.ts';

/** `gatehouse events`: the security event log as JSON Lines, newest first, the same lines as the admin API's. */
export const events: Command = {
  words: ['events'],
  summary: 'Print security events as JSON Lines, newest first (all of them, or those the filters select)',
  usage:
    'gatehouse events [--type TYPE] [--user ID|EMAIL] [--client CLIENT_ID] [--since ISO] [--until ISO] [--limit N]\n\n' +
    '--since is inclusive, --until exclusive: a date (2026-11-22, midnight UTC) or a date-time with its zone\n' +
    '(2026-11-22T12:00:00Z). Without --limit, every matching event is printed.',
  options: {
    type: { type: 'string' },
    user: { type: 'string' },
    client: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
  },
  async run({ values }, io) {
    const option = (name: string) => values[name] as string | undefined;
    let filter: ReturnType<typeof parseEventFilter>;
    try {
      filter = parseEventFilter(
        {
          type: option('type'),
          user_id: option('user'),
          client_id: option('client'),
          since: option('since'),
          until: option('until'),
          limit: option('limit'),
        },
        { maxLimit: Number.MAX_SAFE_INTEGER },
      );
    } catch (error) {
      // The admin API's parameter names (user_id, client_id) are the options --user and --client here.
      if (error instanceof OAuthError) {
        throw new UsageError(String(error.description).replace(/^(\w+?)(_id)? /, '--$1 '));
      }
      throw error;
    }
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      // An email names the user it belongs to now; an id also finds the events of a deleted user.
      const user = filter.userId?.includes('@') ? await storage.users.findByEmail(filter.userId) : undefined;
      if (filter.userId?.includes('@') && !user) {
        io.stderr(`No user with the email ${filter.userId}.\n`);
        return 1;
      }
      const query = { ...filter, ...(user ? { userId: user.id } : {}) };
      for await (const event of eachSecurityEvent(storage, query)) {
        io.stdout(`${JSON.stringify(securityEventJson(event))}\n`);
      }
      return 0;
    } finally {
      await storage.close();
    }
  },
};
