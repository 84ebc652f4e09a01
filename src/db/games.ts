import type { Kysely } from 'kysely'
import type { Database, Game } from './database.js'

export type ReplayRow = Pick<Game, 'game_folder' | 'replay_file'>

/** The game's replay location, or undefined when there is no such game. */
export async function findReplay (db: Kysely<Database>, gameId: string): Promise<ReplayRow | undefined> {
  return await db
    .selectFrom('games')
    .select(['game_folder', 'replay_file'])
    .where('id', '=', gameId)
    .executeTakeFirst()
}
