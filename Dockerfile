# mini-kafka: one container, HTTP API on :8000, the log on the /data volume.
#   docker build -t mini-kafka .
#   docker run -d -p 8000:8000 -v mini-kafka-data:/data mini-kafka

# ---- build: full dev toolchain (nest CLI, TypeScript, swagger plugin) -> dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
# swagger-ui-dist pulls in @scarf/scarf, whose install script phones home; switch it off.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies + compiled JS only ----
FROM node:24-bookworm-slim AS runtime
# Memory (the same settings as `npm start`): two malloc arenas rather than one per thread, and buffers of 64 KiB
# and more (request bodies, record batches) mapped and unmapped rather than left fragmenting the malloc heap.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=8000 \
    HOST=0.0.0.0 \
    SCARF_ANALYTICS=false \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=65536
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev keeps the toolchain (and the `node` binary devDependency) out. --omit=optional as
# well: typescript is "devOptional" in the lockfile (an optional peer of @nestjs/swagger, only
# used by its build-time CLI plugin), so --omit=dev alone would still install it.
# No runtime dependency needs an install script, so none runs. Source maps, type declarations
# and markdown in node_modules are never loaded at run time: dropped.
# App files stay root-owned (read-only to the node user); only /data is writable.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -delete \
 && rm -rf /root/.npm /tmp/* \
 && mkdir -p /data \
 && chown node:node /data
COPY --from=build /app/dist ./dist

USER node
VOLUME /data
EXPOSE 8000
# Ready = storage recovered and writable (503 while draining on SIGTERM).
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# node is PID 1: Nest's shutdown hooks handle SIGTERM (drain, flush, close the log) and exit.
# Draining may take up to SHUTDOWN_TIMEOUT_MS (10 s), docker stop's default grace: use `docker stop -t 15`.
# The same V8 flags as `npm start` (see README, Memory): the young generation stays at 3 × 8 MiB instead of
# 3 × 16 MiB, and the old generation may grow to twice its live size before a full collection instead of up
# to four times (requests parked on an fsync get promoted; their garbage is collected sooner).
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=100", "dist/main.js"]
