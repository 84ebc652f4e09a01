# syntax=docker/dockerfile:1
# replay-gate on Node 24: compiled JavaScript, production dependencies only,
# run as the unprivileged `node` user of the official image.
#   docker build -t replay-gate .
#   docker run -p 3000:3000 -e DATABASE_URL=… -e S3_BUCKET=… -e S3_REGION=… replay-gate
# Settings are environment variables (.env.example); credentials come from the
# AWS SDK's chain (a task or instance role, or AWS_* variables), never the image.
# Besides the service, the image runs the two setup commands, and the check of both:
#   docker run --rm -e DATABASE_URL=… replay-gate node dist/cli/db-migrate.js
#   docker run --rm -e S3_BUCKET=… -e S3_REGION=… -e DATABASE_URL=… replay-gate node dist/cli/bucket-setup.js
#   docker run --rm -e S3_BUCKET=… -e S3_REGION=… -e DATABASE_URL=… replay-gate node dist/cli/check.js
# Local mode (the embedded database and S3 emulator) is not in the image: they
# are development dependencies, and NODE_ENV=production refuses it.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# /metrics on a port of its own on the container's loopback, never on the port
# clients reach: a scraper in the same network namespace (a pod's sidecar)
# reads it there; -e METRICS_HOST=0.0.0.0 opens it to the container's network.
# On SIGTERM, 15 s in which /readyz answers 503 while requests are still served: a balancer
# sees it and stops sending before the listener closes. With SHUTDOWN_TIMEOUT_MS (10 s)
# and a margin, within Kubernetes' default grace period of 30 s (docs/operations.md).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 METRICS_PORT=9464 METRICS_HOST=127.0.0.1 SHUTDOWN_DELAY_MS=15000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The bucket's CORS rules, for the image's bucket:setup command.
COPY localstack/bucket-cors.json ./localstack/bucket-cors.json
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# What `npm start` runs once built, started directly so that SIGTERM reaches the service.
CMD ["node", "dist/server.js"]
