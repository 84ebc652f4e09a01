// Every query on the games table, and the table's and columns' names in one
// place: the lookup, the readiness probe, the demo seed, the tests and the
// benches all go through GamesRepository. (The migration that created the
// table is frozen, and keeps its own literal names.) It also keeps the
// service's own record of each replay's compressed variants.
import { sql, type Kysely, type RawBuilder } from 'kysely'
import { jsonArrayFrom } from 'kysely/helpers/postgres'
import type { ContentCoding, ReplayVariant } from '../model/replay-object.js'
import type { Database, Game } from './schema.js'

/** Where the games are: the table and its columns. */
export const GAMES_TABLE = { table: 'games', id: 'id', folder: 'game_folder', file: 'replay_file' } as const

export type ReplayRow = Pick<Game, 'game_folder' | 'replay_file'>

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
export interface ReplayToCompress {
  id: string
  game_folder: string
  replay_file: string
  /** The encodings it has already. */
  has: ContentCoding[]
}

/** A game as the seed, the tests and the benches write it. */
export interface GameRow {
  id: string
  game_folder: string
  replay_file: string | null
}

export class GamesRepository {
  constructor (readonly db: Kysely<Database>) {}

  /** The game's replay location, or undefined when there is no such game. */
  async findReplay (gameId: string): Promise<ReplayRow | undefined> {
    return await this.db
      .selectFrom(GAMES_TABLE.table)
      .select([GAMES_TABLE.folder, GAMES_TABLE.file])
      .where(GAMES_TABLE.id, '=', gameId)
      .executeTakeFirst()
  }

  /** The game's replay location and its recorded variants, or undefined when there is no such game. */
  async findReplayWithVariants (gameId: string): Promise<ReplayRowWithVariants | undefined> {
    const row = await this.db
      .selectFrom(GAMES_TABLE.table)
      .select([GAMES_TABLE.folder, GAMES_TABLE.file])
      .select((eb) => jsonArrayFrom(eb.selectFrom('replay_variants')
        .select(['encoding', 'object_key as key', sql<number>`size::float8`.as('size'), 'identity_key as identityKey', sql<number>`identity_size::float8`.as('identitySize')])
        .where('replay_variants.game_id', '=', gameId)
        .orderBy('size').orderBy('encoding')).as('variants'))
      .where(GAMES_TABLE.id, '=', gameId)
      .executeTakeFirst()
    return row
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
   */
  async replaysToCompress (encodings: readonly ContentCoding[], { ids, afterId, limit }: { ids?: readonly string[], afterId?: string, limit: number }): Promise<ReplayToCompress[]> {
    const { table, id, folder, file } = GAMES_TABLE
    const has = sql<ContentCoding[]>`coalesce((select array_agg(v.encoding order by v.encoding) from replay_variants v where v.game_id = g.${sql.ref(id)}), '{}'::text[])`
    let query = this.db
      .selectFrom(`${table} as g`)
      .select([`g.${id} as id`, `g.${folder} as game_folder`, `g.${file} as replay_file`, has.as('has')])
      .where(`g.${file}`, 'is not', null)
      .where(sql<boolean>`not (${has} @> ${sql.val([...encodings])}::text[])`)
    if (ids !== undefined) query = query.where(`g.${id}`, 'in', ids.length > 0 ? [...ids] : ['0'])
    if (afterId !== undefined) query = query.where(`g.${id}`, '>', afterId)
    const rows = await query.orderBy(`g.${id}`).limit(limit).execute()
    return rows.map((row) => ({ id: row.id, game_folder: row.game_folder, replay_file: row.replay_file as string, has: row.has }))
  }

  /**
   * Asks the table as the lookups ask it, for readiness: a missing table or
   * missing rights show here. Rejects with the driver's error, or after
   * `timeoutMs` without an answer.
   */
  async probe (timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(reject, timeoutMs, new Error(`no answer within ${timeoutMs} ms`))
    })
    try {
      // The lookup's own query (its variants too), for a game id that never exists.
      await Promise.race([this.findReplayWithVariants('0'), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Adds games; with `keepExisting`, an id already there is left as it is. */
  async insert (games: readonly GameRow[], { keepExisting = false } = {}): Promise<void> {
    if (games.length === 0) return
    const insert = this.db.insertInto(GAMES_TABLE.table).values(games.map(({ id, game_folder: folder, replay_file: file }) => ({
      [GAMES_TABLE.id]: id, [GAMES_TABLE.folder]: folder, [GAMES_TABLE.file]: file
    })))
    await (keepExisting ? insert.onConflict((oc) => oc.column(GAMES_TABLE.id).doNothing()) : insert).execute()
  }

  /**
   * Games 1 to `count`, made by the database in one statement (the benches'
   * million games): `row` gives each one's folder and file as SQL
   * expressions over its id.
   */
  async insertSeries (count: number, row: { folder: (id: RawBuilder<unknown>) => RawBuilder<unknown>, file: (id: RawBuilder<unknown>) => RawBuilder<unknown> }): Promise<void> {
    const n = sql.ref('n')
    await sql`INSERT INTO ${sql.table(GAMES_TABLE.table)} (${sql.ref(GAMES_TABLE.id)}, ${sql.ref(GAMES_TABLE.folder)}, ${sql.ref(GAMES_TABLE.file)})
      SELECT n, ${row.folder(n)}, ${row.file(n)} FROM generate_series(1, ${count}::bigint) AS n`.execute(this.db)
  }
}
