// Which test files share a process in `npm test`. A test process on Node 20
// spends about a CPU-second before its first test (tap, the service's modules,
// a PGlite database), so the files run by the dozen: each batch is one test
// file for tap (test/batches/<name>.test.mjs), which loads its files one after
// another and then runs their tests in that order. A file still runs alone the
// same way (`npx tap test/routes/replay.test.ts`).
//
// A file runs in a process of its own instead (ALONE, below) when it changes
// what the whole process shares: the environment, the OpenTelemetry globals,
// Node's warning listeners. Every test file is in exactly one batch or in
// ALONE (test/suite-layout.test.ts).
//
// tap starts the batches four at a time in the order of their names: the
// longest ones (clients, commands-and-deploy, data, faults-and-plugins, each
// a minute or two of a loaded machine's time) are named to start first, so
// that the short ones fill in behind them instead of starting a long one last.
//
// Paths are relative to test/.
export const BATCHES = {
  // The routes: the redirect, its URL, /stream, the variants, health.
  routes: [
    'routes/health.test.ts',
    'routes/platform-table.test.ts',
    'routes/replay-stream.test.ts',
    'routes/replay-variants.test.ts',
    'routes/replay.test.ts'
  ],
  // The plugins (auth, headers, limits, load shedding), the OpenAPI document,
  // reading S3, and what the service does when S3, the database or a client
  // misbehaves.
  'faults-and-plugins': [
    'plugins/bearer-auth.test.ts',
    'plugins/forwarded-for-check.test.ts',
    'plugins/load-shedding.test.ts',
    'plugins/options.test.ts',
    'plugins/request-log.test.ts',
    'plugins/security-headers.test.ts',
    'plugins/stream-concurrency.test.ts',
    'plugins/stream-rate-limit.test.ts',
    'security.test.ts',
    'openapi.test.ts',
    'storage/cancellation.test.ts',
    'storage/object-reads.test.ts',
    'storage/replay-storage.test.ts',
    'storage/s3-url-signer.test.ts',
    'storage/socket-reads.test.ts',
    'faults/database.test.ts',
    'faults/hostile-s3.test.ts',
    'faults/slow-client.test.ts',
    'faults/storage.test.ts',
    'http/accept-encoding.test.ts',
    'http/error-replies.test.ts',
    'http/preconditions.test.ts',
    'http/replay-headers.test.ts',
    'http/socket-answers.test.ts'
  ],
  // The database, local mode, the bucket, and the lookups.
  data: [
    'db/database-errors.test.ts',
    'db/games-table.test.ts',
    'db/games.test.ts',
    'db/migration-state.test.ts',
    'lookup/replay-locator.test.ts',
    'local/demo-seed.test.ts',
    'local/local-mode.test.ts',
    'local/s3-conformance.test.ts',
    'local/s3-emulator.test.ts',
    'local/strict-reads.test.ts',
    'bucket/cors-rules.test.ts',
    'bucket/setup.test.ts',
    // Settings, names, signing, metrics and the documents held against the code.
    'config/address-ranges.test.ts',
    'config/cdn.test.ts',
    'config/config.test.ts',
    'replay/download-name.test.ts',
    'replay/game-id.test.ts',
    'replay/replay-key.test.ts',
    'signing/cloudfront-signer.test.ts',
    'docs/configuration-doc.test.ts',
    'docs/http-contract-doc.test.ts',
    'observability/logging.test.ts',
    'observability/metrics.test.ts',
    'observability/monitoring.test.ts',
    'observability/prebound-exposition.test.ts',
    'heap-tuning.test.ts',
    'project-files.test.ts',
    'scripts/build.test.ts',
    'suite-layout.test.ts'
  ],
  // Real download clients, compressed variants and the CDN signer end to end.
  clients: [
    'clients/cdn.test.ts',
    'clients/compressed-variants.test.ts',
    'clients/download-clients.test.ts',
    'variants/command.test.ts',
    'variants/compress.test.ts'
  ],
  // The service and its commands as processes of their own: these mostly wait
  // on them, so they are spread over four batches that run side by side.
  'service-starts': [
    'server-lifecycle.test.ts',
    'server.test.ts',
    'checks/command.test.ts',
    'server-games-table.test.ts'
  ],
  'service-stops': [
    'shutdown.test.ts',
    'shutdown-connections.test.ts'
  ],
  'commands-and-deploy': [
    'db/migrate.test.ts',
    'variants/cli.test.ts',
    'deploy.test.ts'
  ],
  'profiling-and-fuzz': [
    'observability/profiling.test.ts',
    'fuzz.test.ts'
  ]
} as const satisfies Record<string, readonly string[]>

/** Files that run in a process of their own, each from its own test/batches/<name>.test.mjs. */
export const ALONE = {
  'missing-credentials': 'storage/missing-credentials.test.ts',
  telemetry: 'observability/telemetry.test.ts',
  'log-trace-ids': 'observability/log-trace-ids.test.ts',
  'process-warnings': 'observability/process-warnings.test.ts'
} as const satisfies Record<string, string>

export type BatchName = keyof typeof BATCHES | keyof typeof ALONE
