// Every query on the games table, and the table's and columns' names in one
// place: the lookup, the readiness probe, the demo seed, the tests and the
// benches all go through GamesRepository. (The migration that created the
// table is frozen, and keeps its own literal names.)
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database, Game } from './schema.js'

/** Where the games are: the table and its columns. */
export const GAMES_TABLE = { table: 'games', id: 'id', folder: 'game_folder', file: 'replay_file' } as const

export type ReplayRow = Pick<Game, 'game_folder' | 'replay_file'>

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
      await Promise.race([this.db.selectFrom(GAMES_TABLE.table).select(sql<number>`1`.as('one')).limit(1).execute(), timeout])
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
