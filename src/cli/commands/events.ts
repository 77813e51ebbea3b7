import { OAuthError } from '../../errors.ts';
import { eachSecurityEvent, parseEventFilter, securityEventJson } from '../../oauth/security-events.ts';
import { type Command, CommandFailure, UsageError } from '../command.ts';

/** `gatehouse events`: the security event log as JSON Lines, newest first, the same lines as the admin API's. */
export const events: Command = {
  words: ['events'],
  summary: 'Print security events as JSON Lines, newest first (all of them, or those the filters select)',
  options: {
    type: {
      type: 'string',
      value: 'TYPE',
      description: 'Only events of this type (login_failed, client_approve, …).',
    },
    user: { type: 'string', value: 'ID|EMAIL', description: 'Only events about this user.' },
    client: { type: 'string', value: 'CLIENT_ID', description: 'Only events about this client.' },
    since: {
      type: 'string',
      value: 'ISO',
      description:
        'From this time on, inclusive: a date (2026-11-22, midnight UTC) or a date-time with its zone.',
    },
    until: { type: 'string', value: 'ISO', description: 'Before this time (exclusive), written as --since.' },
    limit: { type: 'string', value: 'N', description: 'At most N events (default: every matching one).' },
  },
  details: 'One JSON object a line, the same objects as GET /api/v1/security-events answers.',
  database: 'existing',
  async run({ values, io, storage: open }) {
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
    const storage = await open();
    // An email names the user it belongs to now; an id also finds the events of a deleted user.
    const user = filter.userId?.includes('@') ? await storage.users.findByEmail(filter.userId) : undefined;
    if (filter.userId?.includes('@') && !user) {
      throw new CommandFailure(`No user with the email ${filter.userId}.`);
    }
    const query = { ...filter, ...(user ? { userId: user.id } : {}) };
    for await (const event of eachSecurityEvent(storage, query)) {
      io.stdout(`${JSON.stringify(securityEventJson(event))}\n`);
    }
    return 0;
  },
};
