// The answer of an administrative operation on one record (a client, a user): the same four cases whichever
// face (console, admin API, CLI) asked, so each face maps them to its own words once.

/**
 * - `ok`: done; `value` is the record as it is now.
 * - `unchanged`: it already was that way (enable an enabled client); nothing was written or recorded.
 * - `not_found`: no such record.
 * - `conflict`: the operation does not apply to the record as it is now (approve a change when none waits,
 *   disable your own account); `reason` says why, for a person.
 */
export type Outcome<T, Extra = object> =
  | ({ status: 'ok'; value: T } & Extra)
  | { status: 'unchanged'; value: T }
  | { status: 'not_found' }
  | { status: 'conflict'; value: T; reason: string };
