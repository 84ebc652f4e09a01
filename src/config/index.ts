// The service's settings, read from the environment once at start, a section
// at a time (each file of this folder reads one). This folder is the only
// code that reads settings; server.ts and the commands pass process.env in.
import { readCdn, type CdnSettings } from './cdn.js'
import { readDatabase, readLocalDataDir, type DatabaseSettings } from './database.js'
import { readProtection, type ProtectionSettings } from './protection.js'
import { lookAlikes, Reader, type Env } from './reader.js'
import { readServer, type ServerSettings } from './server.js'
import { readStorage, type StorageSettings } from './storage.js'

export type { CdnConfig, CdnSettings } from './cdn.js'
export type { LookupCacheConfig, DatabaseSettings } from './database.js'
export type { AuthConfig, PressureConfig, RateLimitConfig, StreamConcurrencyConfig } from './protection.js'
export { ConfigError, redactUrl, type Env } from './reader.js'
export type { HttpLimitsConfig } from './server.js'
export { MAX_PRESIGN_TTL_SECONDS, type S3Config, type StorageSettings } from './storage.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface TelemetryConfig {
  /** OpenTelemetry's own variables name an OTLP endpoint: spans are exported (the exporter reads the OTEL_EXPORTER_OTLP_* variables). */
  exportTraces: boolean
  serviceName: string
  /** How spans are sent: OTLP/HTTP with a protobuf body (OpenTelemetry's default) or a JSON one. */
  protocol: OtlpProtocol
}

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number]

interface CommonConfig extends ServerSettings, StorageSettings, CdnSettings, Omit<DatabaseSettings, 'databaseUrl'>, ProtectionSettings {
  logLevel: LogLevel
  telemetry: TelemetryConfig
  /** Settings that may not do what was meant, and variables that look like settings but are none (a misspelt name): logged at start. */
  warnings: string[]
}

/** Neither DATABASE_URL nor S3_BUCKET: the embedded database and S3 emulator, under a data folder. */
export interface LocalConfig extends CommonConfig {
  mode: 'local'
  localDataDir: string
}

/** A real PostgreSQL and a real bucket. */
export interface ConfiguredConfig extends CommonConfig {
  mode: 'configured'
  databaseUrl: string
}

export type Config = LocalConfig | ConfiguredConfig

/** What the app itself needs of the settings (server.ts and the backends use the rest). */
export type AppConfig = Pick<Config, 'publicBaseUrl' | 'corsOrigins' | 'corsCredentials' | 'databaseTimeoutMs' | 'lookupCache' | 'gamesTable' | 'http' | 'trustProxy' | 'pressure' | 'streamRateLimit' | 'streamConcurrency' | 'auth' | 'metricsPort'> & {
  s3: Pick<Config['s3'], 'keyPrefix'>
}

/** Reads and checks every setting; reports all bad ones at once (a ConfigError). */
export function parseConfig (env: Env): Config {
  const read = new Reader(env)
  const database = readDatabase(read)
  const bucketSet = read.string('S3_BUCKET') !== undefined
  const local = database.databaseUrl === undefined && !bucketSet
  const common: Omit<CommonConfig, 'warnings'> = {
    ...readServer(read, { localDefaults: local }),
    ...readStorage(read),
    ...readCdn(read),
    databaseTimeoutMs: database.databaseTimeoutMs,
    databasePoolSize: database.databasePoolSize,
    lookupCache: database.lookupCache,
    gamesTable: database.gamesTable,
    ...readProtection(read),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS) ?? 'info',
    telemetry: {
      exportTraces: read.string('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined || read.string('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined,
      serviceName: read.string('OTEL_SERVICE_NAME') ?? 'replay-gate',
      // The traces' own variable wins over the one for every signal, as in OpenTelemetry's SDKs. No gRPC exporter is shipped.
      protocol: read.oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', OTLP_PROTOCOLS) ?? read.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', OTLP_PROTOCOLS) ?? 'http/protobuf'
    }
  }
  const localDataDir = readLocalDataDir(read)
  // Once every setting was asked for: a misspelt name (S3_BUKET) is named in the message, which is what stops the start.
  const instead = (setting: string): string => read.setInstead(setting)
  if (bucketSet && database.databaseUrl === undefined && !read.failed('DATABASE_URL')) {
    read.problem('DATABASE_URL', `DATABASE_URL is missing${instead('DATABASE_URL')}: S3_BUCKET is set, so the service expects a database too (unset both for local mode)`)
  } else if (!bucketSet && database.databaseUrl !== undefined && !read.failed('S3_BUCKET')) {
    read.problem('S3_BUCKET', `S3_BUCKET is missing${instead('S3_BUCKET')}: DATABASE_URL is set, so the service expects a bucket too (unset both for local mode)`)
  }
  // The image sets NODE_ENV=production: a deployment that names neither backend (a typo, a missing
  // secret) must fail, not serve demo data from an embedded database.
  if (local && env.NODE_ENV === 'production') {
    read.problem('DATABASE_URL', `DATABASE_URL and S3_BUCKET are not set${instead('DATABASE_URL')}${instead('S3_BUCKET')}, and NODE_ENV is production: local mode (an embedded database and S3 with a demo game) is for development only; set both to run against your PostgreSQL and bucket`)
  }
  read.check()
  const warnings = [...read.warnings, ...lookAlikes(env, read.names)]
  return local ? { ...common, warnings, mode: 'local', localDataDir } : { ...common, warnings, mode: 'configured', databaseUrl: database.databaseUrl as string }
}

/** Only the database's settings (the migrate command): the bucket is not needed. */
export function parseDatabaseConfig (env: Env): DatabaseSettings & { localDataDir: string } {
  const read = new Reader(env)
  const settings = { ...readDatabase(read), localDataDir: readLocalDataDir(read) }
  read.check()
  return settings
}

/** Only the bucket's settings (the bucket:setup command): the database is not needed. */
export function parseStorageConfig (env: Env, options: { requireBucket?: boolean } = {}): StorageSettings {
  const read = new Reader(env)
  const settings = readStorage(read, options)
  read.check()
  return settings
}
