// Hot-path queries compiled once per dialect, then run with new values. Kysely builds and compiles a query
// anew on every call (immutable node trees, then a visitor pass over them): a few microseconds each, several
// times per token request. The query is still written with Kysely's builder, so its types and each dialect's
// SQL stay Kysely's; only the compiling is done once.
import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import { type DirectRunner, directRunner, mayRunDirectly } from './direct.ts';
import type { Db } from './rows.ts';

const MARK = '\u0000gatehouse-parameter:';

type Slot = { name: string } | { value: unknown };

/**
 * Every column of a table's row type, checked by the compiler: an insert prepared from a list that misses a
 * column would silently leave it out.
 */
export function columnsOf<Row>() {
  return <const List extends readonly (keyof Row & string)[]>(
    list: List &
      (Exclude<keyof Row, List[number]> extends never
        ? unknown
        : { missing: Exclude<keyof Row, List[number]> }),
  ): readonly string[] => list;
}

/**
 * `build` receives placeholders for the named values and must use each only as a plain value (in `values`,
 * `set`, or a comparison); the placeholders are found in the compiled parameters and replaced on every run.
 * An insert that passes the whole placeholder object to `values` must name its columns in `keys`, since
 * Kysely reads the object's keys.
 */
export function prepared<Values extends object, Row>(
  build: (db: Db, values: Values) => Compilable<Row>,
  keys?: readonly string[],
): (db: Db, values: Values) => Promise<QueryResult<Row>> {
  // One compiled form per dialect: a transaction shares its database's adapter, so they share the entry.
  const compiled = new WeakMap<
    object,
    { query: CompiledQuery<Row>; slots: Slot[]; direct: DirectRunner | undefined }
  >();
  return (db, values) => {
    const adapter = db.getExecutor().adapter;
    let entry = compiled.get(adapter);
    if (!entry) {
      const placeholders = (
        keys
          ? Object.fromEntries(keys.map((key) => [key, MARK + key]))
          : new Proxy({}, { get: (_target, name) => MARK + String(name) })
      ) as Values;
      const query = build(db, placeholders).compile();
      const slots = query.parameters.map(
        (value): Slot =>
          typeof value === 'string' && value.startsWith(MARK)
            ? { name: value.slice(MARK.length) }
            : { value },
      );
      entry = { query, slots, direct: directRunner(db) };
      compiled.set(adapter, entry);
    }
    const named = values as Record<string, unknown>;
    const parameters = entry.slots.map((slot) => ('name' in slot ? named[slot.name] : slot.value));
    const direct = mayRunDirectly(db)
      ? entry.direct?.(entry.query.sql, parameters, db.isTransaction)
      : undefined;
    return (
      (direct as Promise<QueryResult<Row>> | undefined) ??
      db.executeQuery<Row>({ ...entry.query, parameters })
    );
  };
}
