# syntax=docker/dockerfile:1
# One image for the gateway, the processor, the dashboard and the set-up job; the command picks
# which (default: the gateway):
#   node dist/gateway/server.js | node dist/processor/main.js | node dist/dashboard/server.js
#   node dist/infra/cli.js setup | node dist/scripts/kibana-import.js
# Compiled JavaScript only: no TypeScript, tsx or dev dependencies at run time.
#   docker build -t clickstream .        (scripts/image-report.sh also prints size and start time)

# --- build: every dependency, the SDK (rollup, byte budget, SRI hashes) and the services (tsc) ---
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# patches/: pinned fixes to dependencies, applied by patch-package at install (see patches/README.md).
COPY patches ./patches
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY contracts ./contracts
COPY common ./common
COPY sdk ./sdk
COPY gateway ./gateway
COPY processor ./processor
COPY dashboard ./dashboard
COPY infra ./infra
COPY scripts ./scripts
RUN npm run build:sdk && npm run build

# --- deps: production dependencies only ---
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force

# --- run ---
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    DASHBOARD_HOST=0.0.0.0 \
    PROCESSOR_METRICS_HOST=0.0.0.0 \
    ARCHIVE_DIR=/data/archive
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY --from=build /app/sdk/dist/clickstream.min.js /app/sdk/dist/clickstream.full.min.js ./sdk/dist/
# The local archive (ARCHIVE_BACKEND=local) is the only thing written; everything else is read-only.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
# The `node` user of the official image (uid 1000), never root.
USER node
EXPOSE 8080 8081 9464
CMD ["node", "dist/gateway/server.js"]
