// Listed here rather than read from the folder, so the same code runs from
// TypeScript sources and from the compiled dist/ alike.
import type { Migration } from 'kysely'
import * as createGames from './2026-11-26T00-00-00-create-games.js'
import * as createReplayVariants from './2026-12-06T00-00-00-create-replay-variants.js'

export const migrations: Record<string, Migration> = {
  '2026-11-26T00-00-00-create-games': createGames,
  '2026-12-06T00-00-00-create-replay-variants': createReplayVariants
}
