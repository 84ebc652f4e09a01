// The tables the service reads, as Kysely sees them. Imports nothing of the
// service: the connection and the repository lean on it.
import type { Generated, Selectable } from 'kysely'

export interface GamesTable {
  /** bigint in PostgreSQL; `pg` hands bigints back as strings, so it is typed as one. */
  id: string
  game_folder: string
  replay_file: string | null
}

/** The service's own record of a replay's compressed variants (made and verified by replays:compress). */
export interface ReplayVariantsTable {
  game_id: string
  encoding: 'gzip' | 'br' | 'zstd'
  object_key: string
  /** bigint: handed back as a string. */
  size: string | number
  /** The identity object the variant was made from, and what it was then. */
  identity_key: string
  identity_size: string | number
  identity_etag: string | null
  /** SHA-256 (hex) of the identity bytes: what decoding the variant gives back. */
  identity_sha256: string
  created_at: Generated<Date>
}

export interface Database {
  games: GamesTable
  replay_variants: ReplayVariantsTable
}

export type Game = Selectable<GamesTable>
