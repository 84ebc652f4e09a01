// Which table holds the games, and what its columns are: the service's own
// `games` (made by its migrations), or a platform's table or view that the
// service only reads. The names come from the settings (GAMES_TABLE and the
// column settings) and only ever reach SQL as identifiers quoted by Kysely.
// The check below says, at start and in /readyz, which name is wrong.
import { sql, type Kysely } from 'kysely'

/** Where a game's replay is written in its row. */
export type ReplayColumns =
  /** A folder and a file name: the key is folder + "/" + file. */
  | { folder: string, file: string }
  /** The whole key below S3_KEY_PREFIX. */
  | { key: string }

export interface GamesTableConfig {
  /** As configured: `table`, or `schema.table`; unqualified, found on the search_path. */
  table: string
  /** The column of the game id in the URL. */
  id: string
  replay: ReplayColumns
}

/** The table the service's migrations make, with its own names. */
export const DEFAULT_GAMES_TABLE: GamesTableConfig = Object.freeze({ table: 'games', id: 'id', replay: Object.freeze({ folder: 'game_folder', file: 'replay_file' }) })

/** The settings that name the table and its columns, for messages. */
export const SETTING = { table: 'GAMES_TABLE', id: 'GAME_ID_COLUMN', folder: 'GAME_FOLDER_COLUMN', file: 'REPLAY_FILE_COLUMN', key: 'REPLAY_KEY_COLUMN' } as const

/** The service's own table: the default names, which the migrations create and the seeds write to. */
export function isOwnGamesTable (config: GamesTableConfig): boolean {
  return config.table === DEFAULT_GAMES_TABLE.table && config.id === DEFAULT_GAMES_TABLE.id && 'folder' in config.replay &&
    config.replay.folder === 'game_folder' && config.replay.file === 'replay_file'
}

// PostgreSQL's rule for a name that needs no quotes, in any case ($ included); its limit is 63 bytes.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/
const MAX_IDENTIFIER_BYTES = 63

/** Why `value` cannot name a column (or, with `qualified`, a table or schema.table), or undefined. */
export function identifierProblem (setting: string, value: string, { qualified = false } = {}): string | undefined {
  const parts = qualified ? value.split('.') : [value]
  const what = qualified ? 'a table name or schema.table' : 'a column name'
  if (parts.length > 2 || parts.some((part) => !IDENTIFIER.test(part))) {
    return `${setting} must be ${what} (letters, digits, _ and $, not starting with a digit${qualified ? '; one dot between schema and table' : ''}); got ${JSON.stringify(value)}`
  }
  const long = parts.find((part) => Buffer.byteLength(part) > MAX_IDENTIFIER_BYTES)
  if (long !== undefined) return `${setting}: ${JSON.stringify(long)} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes for a name`
  return undefined
}

/** How ids are compared: as integers (int2, int4, int8, numeric), or as text (text, varchar). */
export type IdKind = 'integer' | 'text'

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8', 'numeric'])
const TEXT_TYPES = new Set(['text', 'varchar'])
const STRING_TYPES = new Set(['text', 'varchar', 'bpchar'])

/** What the database has under the configured names: usable (and how to compare ids), or what is wrong. */
export type TableCheck =
  | { ok: true, idKind: IdKind, relation: string }
  | { ok: false, problems: string[] }

interface CatalogRow {
  relation: string | null
  relkind: string | null
  column: string | null
  type: string | null
  shown: string | null
  readable: boolean | null
}

// Relations whose rows can be read: tables, partitioned tables, views, materialized views, foreign tables.
const READABLE_KINDS = new Set(['r', 'p', 'v', 'm', 'f'])

/**
 * Looks the table and its columns up in pg_catalog (which, unlike
 * information_schema, shows what the role may not read, so that missing
 * rights are told apart from a missing name). One query; views and tables
 * in another schema alike, on PostgreSQL and PGlite.
 */
export async function checkGamesTable (db: Kysely<any>, config: GamesTableConfig): Promise<TableCheck> {
  const [schema, name] = config.table.includes('.') ? config.table.split('.') as [string, string] : [undefined, config.table]
  const regclass = schema === undefined ? sql`quote_ident(${name})` : sql`quote_ident(${schema}) || '.' || quote_ident(${name})`
  const { rows } = await sql<CatalogRow>`
    select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as relation, c.relkind::text as relkind,
      a.attname::text as "column", coalesce(base.typname, t.typname)::text as type, format_type(a.atttypid, a.atttypmod) as shown,
      has_column_privilege(c.oid, a.attnum, 'SELECT') as readable
    from (select to_regclass(${regclass}) as oid) as wanted
      left join pg_catalog.pg_class c on c.oid = wanted.oid
      left join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      left join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      left join pg_catalog.pg_type t on t.oid = a.atttypid
      left join pg_catalog.pg_type base on t.typtype = 'd' and base.oid = t.typbasetype`.execute(db)
  // One row at least: the relation is left-joined to the name looked up.
  const first = rows[0] as CatalogRow
  if (first.relation === null) {
    // The service's own table is made by its migrations: missing, it says what to run.
    const hint = isOwnGamesTable(config) ? ': is the database migrated? Run `npm run db:migrate` with this DATABASE_URL' : ''
    return { ok: false, problems: [`${SETTING.table} ${config.table} does not exist${hint}`] }
  }
  const relation = first.relation
  if (!READABLE_KINDS.has(first.relkind as string)) return { ok: false, problems: [`${SETTING.table} ${config.table} is not a table or view`] }
  const columns = new Map(rows.filter((row) => row.column !== null).map((row) => [row.column as string, row]))
  const problems: string[] = []
  const look = (setting: string, column: string, types: Set<string>, expected: string): string | undefined => {
    const found = columns.get(column)
    if (found === undefined) {
      const other = [...columns.keys()].find((candidate) => candidate.toLowerCase() === column.toLowerCase())
      problems.push(`${setting} ${column} on ${relation} does not exist${other === undefined ? '' : ` (there is ${other}: names are case-sensitive)`}`)
      return undefined
    }
    if (!types.has(found.type as string)) {
      problems.push(`${setting} ${column} on ${relation} is ${String(found.shown)}; expected ${expected}`)
      return undefined
    }
    if (found.readable !== true) {
      problems.push(`${setting} ${column} on ${relation} may not be read by this role (it needs SELECT)`)
      return undefined
    }
    return found.type as string
  }
  const idType = look(SETTING.id, config.id, new Set([...INTEGER_TYPES, ...TEXT_TYPES]), 'an integer or text column')
  const text = 'a text column (text, varchar or char)'
  if ('key' in config.replay) {
    look(SETTING.key, config.replay.key, STRING_TYPES, text)
  } else {
    look(SETTING.folder, config.replay.folder, STRING_TYPES, text)
    look(SETTING.file, config.replay.file, STRING_TYPES, text)
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, idKind: INTEGER_TYPES.has(idType as string) ? 'integer' : 'text', relation }
}

/** What is wrong with the table under the settings: this instance's configuration, which waiting will not fix. */
export class GamesTableError extends Error {
  constructor (readonly problems: string[]) {
    super(problems.join('; '))
    this.name = 'GamesTableError'
  }
}
