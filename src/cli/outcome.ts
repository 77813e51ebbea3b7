// An operation's outcome (util/outcome.ts) at the command line: not found and conflict are one line on stderr
// and exit 1; done and "already so" print what happened and exit 0 (a repeated command is safe in a script).
import type { Outcome } from '../util/outcome.ts';
import { CommandFailure, type CommandIO } from './command.ts';

export function reportOutcome<T, Extra>(
  io: CommandIO,
  outcome: Outcome<T, Extra>,
  what: string,
  said: { done: string; unchanged?: string },
): Extract<Outcome<T, Extra>, { status: 'ok' | 'unchanged' }> {
  if (outcome.status === 'not_found') throw new CommandFailure(`No ${what}.`);
  if (outcome.status === 'conflict') throw new CommandFailure(outcome.reason);
  io.stdout(`${outcome.status === 'unchanged' ? (said.unchanged ?? said.done) : said.done}\n`);
  return outcome;
}
