// Local mode on a table that GAMES_TABLE names: read as the service reads a
// platform's table, and never written to (the demo goes only into its own).
import { sql } from 'kysely'
import t from 'tap'
import { parseConfig, type LocalConfig } from '../../src/config/index.js'
import { localDatabaseDir, openDatabase, PGLITE_SHARED_BUFFERS } from '../../src/db/database.js'
import { startLocalBackends } from '../../src/local/local-mode.js'
import { localDataDir } from '../support/spawn-service.js'

t.test('a platform\'s table in the local database: its games are read, no demo game is written anywhere', async (t) => {
  const dataDir = await localDataDir(t)
  const setup = await openDatabase({ pglite: { dataDir: localDatabaseDir(dataDir) } })
  await sql`create table matches (match_id bigint, object_key text)`.execute(setup.db)
  await sql`insert into matches values (9, 'm/2024/9.json')`.execute(setup.db)
  await setup.close()
  const config = parseConfig({ LOCAL_DATA_DIR: dataDir, GAMES_TABLE: 'matches', GAME_ID_COLUMN: 'match_id', REPLAY_KEY_COLUMN: 'object_key' }) as LocalConfig
  const backends = await startLocalBackends(config, { onS3Request: () => {} })
  t.teardown(backends.close)
  t.same(await backends.games.findReplay('9'), { replay_key: 'm/2024/9.json' })
  t.same((await sql`select count(*)::int as n from matches`.execute(backends.db)).rows, [{ n: 1 }], 'the platform\'s table as it was')
  t.same((await sql`select count(*)::int as n from games`.execute(backends.db)).rows, [{ n: 0 }], 'and no demo game in the service\'s own')
})

t.test('local mode\'s PGlite starts with small shared buffers, not initdb\'s 128 MB of WebAssembly memory', async (t) => {
  const dataDir = await localDataDir(t)
  const config = parseConfig({ LOCAL_DATA_DIR: dataDir }) as LocalConfig
  const backends = await startLocalBackends(config, { onS3Request: () => {} })
  t.teardown(backends.close)
  t.same((await sql<{ shared_buffers: string }>`show shared_buffers`.execute(backends.db)).rows, [{ shared_buffers: PGLITE_SHARED_BUFFERS }])
})
