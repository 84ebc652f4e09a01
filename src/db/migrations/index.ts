// Listed here rather than read from the folder, so the same code runs from
// TypeScript sources and from the compiled dist/ alike.
import { sql, type Kysely, type Migration } from 'kysely'
import { DEFAULT_GAMES_TABLE, isOwnGamesTable, type GamesTableConfig } from '../games-table.js'
import * as createGames from './2026-11-26T00-00-00-create-games.js'
import * as createReplayVariants from './2026-12-06T00-00-00-create-replay-variants.js'

/** The games settings the migrations run for: they decide whether the service's own games table is made. */
export function migrationsFor (gamesTable: GamesTableConfig): Record<string, Migration> {
  return {
    '2026-11-26T00-00-00-create-games': ownGamesTableOnly(createGames, gamesTable),
    '2026-12-06T00-00-00-create-replay-variants': createReplayVariants
  }
}

/** The migrations for the service's own games table. */
export const migrations = migrationsFor(DEFAULT_GAMES_TABLE)

/** Set on the games table the service makes: its mark of ownership, which `down` asks for. */
export const OWN_TABLE_COMMENT = 'replay-gate: made by its migration 2026-11-26T00-00-00-create-games'

/**
 * The frozen create-games migration, run only where the service's own table
 * is the one in use and no relation named `games` exists: a platform's table
 * or view, under that name or another, is never created, altered or dropped.
 * Skipped, it is recorded as applied all the same: Kysely applies migrations
 * in order, and a later one could not be applied past one left pending.
 * `down` drops only a table the service marked as its own (tables made
 * before the mark existed are left, rather than risk a platform's).
 */
function ownGamesTableOnly (migration: Migration, gamesTable: GamesTableConfig): Migration {
  return {
    up: async (db) => {
      if (!isOwnGamesTable(gamesTable) || await relationExists(db, 'games')) return
      await migration.up(db)
      await sql`comment on table games is ${sql.lit(OWN_TABLE_COMMENT)}`.execute(db)
    },
    down: async (db) => {
      const { rows } = await sql<{ own: boolean }>`select coalesce(obj_description(to_regclass('games'), 'pg_class') = ${OWN_TABLE_COMMENT}, false) as own`.execute(db)
      if ((rows[0] as { own: boolean }).own) await (migration.down as NonNullable<Migration['down']>)(db)
    }
  }
}

/** A table, view or any other relation of that name on the search_path. */
async function relationExists (db: Kysely<any>, name: string): Promise<boolean> {
  const { rows } = await sql<{ exists: boolean }>`select to_regclass(quote_ident(${name})) is not null as exists`.execute(db)
  return (rows[0] as { exists: boolean }).exists
}
