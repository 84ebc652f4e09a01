// The tables the service reads, as Kysely sees them. Imports nothing of the
// service: the connection and the repository lean on it.
import type { Selectable } from 'kysely'

export interface GamesTable {
  /** bigint in PostgreSQL; `pg` hands bigints back as strings, so it is typed as one. */
  id: string
  game_folder: string
  replay_file: string | null
}

export interface Database {
  games: GamesTable
}

export type Game = Selectable<GamesTable>
