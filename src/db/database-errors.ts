// What a failed database call means, by the class that decides what to do:
// the database could not be reached in time (a shared outage: every instance
// fails alike, try again), or it answered that this service is not set up
// there (a wrong password or role, a missing database or table, no rights:
// this instance's configuration, which waiting will not fix).

import { GamesTableError } from './games-table.js'

export type DatabaseFailureKind = 'timeout' | 'unreachable' | 'misconfigured'

export interface DatabaseFailure {
  kind: DatabaseFailureKind
  /** What happened, for the log: the server's message and SQLSTATE, or the connection's error code. */
  detail: string
}

// SQLSTATE classes and codes that mean "not set up for us": 28 invalid authorization,
// 3D000 no such database, 42P01 no such table, 42501 no privilege, 42703 no such column.
const MISCONFIGURED = /^(?:28|3D|42P01$|42501$|42703$)/

// 42P01 no such table, 42703 no such column: the service's own tables are made by its migrations.
const NOT_MIGRATED = new Set(['42P01', '42703'])
/** What to do about a table or column that is missing: the likeliest cause is a database never migrated. */
export const MIGRATE_HINT = 'is the database migrated? Run `npm run db:migrate` with this DATABASE_URL'

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'])

export function classifyDatabaseError (error: unknown): DatabaseFailure {
  // The table or a column under the settings is missing or of the wrong type (games-table.ts).
  if (error instanceof GamesTableError) return { kind: 'misconfigured', detail: error.message }
  const { code, message } = error as { code?: unknown, message?: unknown }
  const text = typeof message === 'string' && message !== '' ? message : String(error)
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const hint = NOT_MIGRATED.has(code) ? `: ${MIGRATE_HINT}` : ''
    return { kind: MISCONFIGURED.test(code) ? 'misconfigured' : 'unreachable', detail: `${text} (SQLSTATE ${code})${hint}` }
  }
  // A refused connection to every address of a name comes as an AggregateError of them.
  const codes = [code, ...((error as { errors?: Array<{ code?: unknown }> }).errors ?? []).map((e) => e.code)].filter((c) => typeof c === 'string')
  const network = codes.find((c) => UNREACHABLE_CODES.has(c as string)) as string | undefined
  if (network !== undefined) return { kind: 'unreachable', detail: `${text === 'AggregateError' || text === '' ? network : text} (${network})` }
  // pg's own words for its two time limits: getting a connection, and a query.
  if (/timeout|timed out/i.test(text)) return { kind: 'timeout', detail: text }
  return { kind: 'unreachable', detail: text }
}
