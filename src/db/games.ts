// Every query on the games table, whichever table that is: the service's
// own `games`, or a platform's table or view named by the settings
// (games-table.ts), which the service only reads. The lookup, the readiness
// probe, the demo seed, the tests and the benches all go through
// GamesRepository; names reach SQL only as identifiers quoted by Kysely. (The
// migration that created the service's table is frozen, and keeps its own
// literal names.) It also keeps the service's own record of each replay's
// compressed variants.
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { ContentCoding, ReplayVariant } from '../model/replay-object.js'
import type { ReplayLocation } from '../replay/replay-key.js'
import { checkGamesTable, DEFAULT_GAMES_TABLE, GamesTableError, isOwnGamesTable, SETTING, type GamesTableConfig, type IdKind, type TableCheck } from './games-table.js'
import type { Database } from './schema.js'

/** The replay's place as a row has it: null while there is none (a platform's folder column may be null too). */
export type ReplayRow = { game_folder: string | null, replay_file: string | null } | { replay_key: string | null }

/** Where the row's replay is, or undefined when it has none yet. A null folder beside a file is kept as an empty one, which the key's rules refuse. */
export function replayLocation (row: ReplayRow): ReplayLocation | undefined {
  if ('replay_key' in row) return row.replay_key === null ? undefined : { key: row.replay_key }
  return row.replay_file === null ? undefined : { folder: row.game_folder ?? '', file: row.replay_file }
}

/** A recorded variant, with the identity object it was made from. */
export interface RecordedVariant extends ReplayVariant {
  identityKey: string
  identitySize: number
}

/** A game's row with the variants recorded for it, smallest first. */
export type ReplayRowWithVariants = ReplayRow & { variants: RecordedVariant[] }

/** A variant made, verified and about to be recorded (the replays:compress command). */
export interface VariantRecord {
  gameId: string
  encoding: ContentCoding
  key: string
  size: number
  identityKey: string
  identitySize: number
  identityEtag: string | undefined
  identitySha256: string
}

/** A game with a replay that lacks some of the variants asked for. */
export type ReplayToCompress = ReplayRow & {
  /** In plain decimal, as the contract writes a game id. */
  id: string
  /** The encodings it has already. */
  has: ContentCoding[]
}

/** A game as the seed, the tests and the benches write it. */
export interface GameRow {
  id: string
  game_folder: string
  replay_file: string | null
}

/** The largest game id the contract allows (2^53 - 1). */
const MAX_GAME_ID = '9007199254740991'

export class GamesRepository {
  /** How ids are compared, fixed by the first check that passes. */
  private idKind: IdKind | undefined
  private checking: Promise<TableCheck> | undefined

  constructor (readonly db: Kysely<Database>, readonly table: GamesTableConfig = DEFAULT_GAMES_TABLE) {}

  /**
   * Checks the table and its columns against the settings (at start, and in
   * each readiness check). The first check that passes decides how ids are
   * compared; a column that later changes between integer and text is a
   * problem until the service restarts.
   */
  async check (): Promise<TableCheck> {
    const found = await checkGamesTable(this.db, this.table)
    if (!found.ok) return found
    this.idKind ??= found.idKind
    if (found.idKind !== this.idKind) {
      return { ok: false, problems: [`${SETTING.id} ${this.table.id} on ${found.relation} is now ${found.idKind === 'integer' ? 'an integer' : 'a text'} column, and this instance compares ids as ${this.idKind}: restart it`] }
    }
    return found
  }

  /** How ids are compared: known after the start's check; else the first lookup checks (once for all waiting). */
  private async kind (): Promise<IdKind> {
    if (this.idKind !== undefined) return this.idKind
    this.checking ??= this.check().finally(() => { this.checking = undefined })
    const found = await this.checking
    if (!found.ok) throw new GamesTableError(found.problems)
    return found.idKind
  }

  private column (name: string): RawBuilder<unknown> {
    return sql.ref(`g.${name}`)
  }

  /** The replay's columns under the names ReplayRow gives them (as text: a char column's padding goes). */
  private replayColumns (): RawBuilder<unknown> {
    const { replay } = this.table
    if ('key' in replay) return sql`${this.column(replay.key)}::text as replay_key`
    return sql`${this.column(replay.folder)}::text as game_folder, ${this.column(replay.file)}::text as replay_file`
  }

  /** A game id as the id column compares it: as int8 for any integer column (an int4 one too: a larger id finds nothing, never overflows), as text for a text one. */
  private idValue (kind: IdKind, gameId: string): RawBuilder<unknown> {
    return kind === 'integer' ? sql`${gameId}::int8` : sql`${gameId}::text`
  }

  /** The game's replay location, or undefined when there is no such game. */
  async findReplay (gameId: string): Promise<ReplayRow | undefined> {
    const kind = await this.kind()
    const { rows } = await sql<ReplayRow>`select ${this.replayColumns()} from ${sql.table(this.table.table)} as g
      where ${this.column(this.table.id)} = ${this.idValue(kind, gameId)} limit 1`.execute(this.db)
    return rows[0]
  }

  /** The game's replay location and its recorded variants, or undefined when there is no such game. */
  async findReplayWithVariants (gameId: string): Promise<ReplayRowWithVariants | undefined> {
    const kind = await this.kind()
    // Smallest first; sizes are bigint, handed back as strings unless cast (a replay is far below 2^53 bytes).
    const variants = sql`(select coalesce(json_agg(v order by v.size, v.encoding), '[]') from (
      select encoding, object_key as key, size::float8 as size, identity_key as "identityKey", identity_size::float8 as "identitySize"
      from replay_variants where game_id = ${gameId}::int8) as v)`
    const { rows } = await sql<ReplayRowWithVariants>`select ${this.replayColumns()}, ${variants} as variants from ${sql.table(this.table.table)} as g
      where ${this.column(this.table.id)} = ${this.idValue(kind, gameId)} limit 1`.execute(this.db)
    return rows[0]
  }

  /** Records a verified variant; one already recorded for the game and encoding is replaced. */
  async recordVariant (variant: VariantRecord): Promise<void> {
    const values = {
      game_id: variant.gameId,
      encoding: variant.encoding,
      object_key: variant.key,
      size: variant.size,
      identity_key: variant.identityKey,
      identity_size: variant.identitySize,
      identity_etag: variant.identityEtag ?? null,
      identity_sha256: variant.identitySha256
    }
    await this.db.insertInto('replay_variants').values(values)
      .onConflict((oc) => oc.columns(['game_id', 'encoding']).doUpdateSet({ ...values, created_at: sql`now()` }))
      .execute()
  }

  /**
   * Games with a replay that lack one of `encodings`, by id, `limit` at a
   * time after `afterId` (all games when `ids` is left out, else those ids).
   * Only ids the contract can ask for: a platform's text column may hold
   * others, and the variants record ids as bigint.
   */
  async replaysToCompress (encodings: readonly ContentCoding[], { ids, afterId, limit }: { ids?: readonly string[], afterId?: string, limit: number }): Promise<ReplayToCompress[]> {
    const kind = await this.kind()
    const id = this.column(this.table.id)
    // Nested CASEs: PostgreSQL does not promise the order of AND's operands, and the cast must only see ids that pass.
    const asBigint = kind === 'integer'
      ? sql`case when ${id} between 1 and ${sql.lit(MAX_GAME_ID)}::int8 then case when ${id}::numeric % 1 = 0 then ${id}::int8 end end`
      : sql`case when ${id} ~ '^[1-9][0-9]{0,15}$' then case when ${id}::int8 <= ${sql.lit(MAX_GAME_ID)}::int8 then ${id}::int8 end end`
    const { replay } = this.table
    const replayColumn = this.column('key' in replay ? replay.key : replay.file)
    const has = sql<ContentCoding[]>`coalesce((select array_agg(v.encoding order by v.encoding) from replay_variants v where v.game_id = ${asBigint}), '{}'::text[])`
    const onlyIds = ids === undefined ? sql`` : ids.length === 0 ? sql`and false` : sql`and ${id} in (${sql.join(ids.map((one) => this.idValue(kind, one)))})`
    const after = afterId === undefined ? sql`` : sql`and ${id} > ${this.idValue(kind, afterId)}`
    const { rows } = await sql<ReplayToCompress>`select ${asBigint}::text as id, ${this.replayColumns()}, ${has} as has
      from ${sql.table(this.table.table)} as g
      where ${replayColumn} is not null and ${asBigint} is not null and not (${has} @> ${sql.val([...encodings])}::text[]) ${onlyIds} ${after}
      order by ${id} limit ${limit}`.execute(this.db)
    return rows
  }

  /**
   * For readiness: checks the table and its columns, then asks the table as
   * the lookups ask it (missing rights, and an unmigrated variants table, show here). Rejects with what is
   * wrong (a GamesTableError), the driver's error, or after `timeoutMs`
   * without an answer.
   */
  async probe (timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(reject, timeoutMs, new Error(`no answer within ${timeoutMs} ms`))
    })
    const ask = async (): Promise<void> => {
      const found = await this.check()
      if (!found.ok) throw new GamesTableError(found.problems)
      // The lookup's own query (the variants' table too), for a game id that never exists.
      await this.findReplayWithVariants('0')
    }
    try {
      await Promise.race([ask(), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The table, for writing: the service writes only to its own (a platform's table is only read). */
  private ownTable (): { table: 'games', id: 'id', folder: 'game_folder', file: 'replay_file' } {
    if (!isOwnGamesTable(this.table)) throw new Error(`${this.table.table} is a platform's table, which the service only reads: games are written only to its own games table`)
    const { table, id, replay } = this.table as GamesTableConfig & { replay: { folder: string, file: string } }
    return { table, id, folder: replay.folder, file: replay.file } as ReturnType<GamesRepository['ownTable']>
  }

  /** Adds games; with `keepExisting`, an id already there is left as it is. */
  async insert (games: readonly GameRow[], { keepExisting = false } = {}): Promise<void> {
    const own = this.ownTable()
    if (games.length === 0) return
    const insert = this.db.insertInto(own.table).values(games.map(({ id, game_folder: folder, replay_file: file }) => ({
      [own.id]: id, [own.folder]: folder, [own.file]: file
    })))
    await (keepExisting ? insert.onConflict((oc) => oc.column(own.id).doNothing()) : insert).execute()
  }

  /**
   * Games 1 to `count`, made by the database in one statement (the benches'
   * million games): `row` gives each one's folder and file as SQL
   * expressions over its id.
   */
  async insertSeries (count: number, row: { folder: (id: RawBuilder<unknown>) => RawBuilder<unknown>, file: (id: RawBuilder<unknown>) => RawBuilder<unknown> }): Promise<void> {
    const own = this.ownTable()
    const n = sql.ref('n')
    await sql`INSERT INTO ${sql.table(own.table)} (${sql.ref(own.id)}, ${sql.ref(own.folder)}, ${sql.ref(own.file)})
      SELECT n, ${row.folder(n)}, ${row.file(n)} FROM generate_series(1, ${count}::bigint) AS n`.execute(this.db)
  }
}
