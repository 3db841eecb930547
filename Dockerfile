# syntax=docker/dockerfile:1
# The agentgate image: production dependencies only, a non-root user, HOST=0.0.0.0, a HEALTHCHECK on
# /health/live, and tini as PID 1 forwarding SIGTERM to node. How to build, run and check it: docs/DEPLOY.md.
#
#   docker build -t agentgate .
#   docker run --rm -p 127.0.0.1:8080:8080 -v agentgate-data:/var/lib/agentgate \
#     -e JWT_SECRET_KEY="$(openssl rand -base64 48)" -e ALLOWED_ORIGINS=http://127.0.0.1:8080 agentgate
#
# NODE_IMAGE may be any Debian-based image with Node.js >= 20.19 and npm on the PATH and the Node headers under
# /usr/local/include/node, as the official node images have them. scripts/container-check.sh passes a base it
# makes with debootstrap, where no container registry is reachable.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- a compiler for the native modules (better-sqlite3, argon2) ---------------------------------------------
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# node-gyp compiles against the headers of the Node that will run the result, instead of downloading them.
ENV npm_config_nodedir=/usr/local \
  npm_config_update_notifier=false \
  npm_config_fund=false \
  npm_config_audit=false
WORKDIR /src

# ---- production dependencies only (this layer is rebuilt only when the lockfile changes) ---------------------
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
# npm ci runs `prepare`: scripts/prepare.mjs finds no TypeScript (dev dependencies omitted) and skips the build.
COPY scripts/prepare.mjs scripts/prepare.mjs
RUN npm ci --omit=dev && npm cache clean --force

# ---- dist/: the server (tsc) and the web page (vite) ----------------------------------------------------------
FROM toolchain AS build
COPY package.json package-lock.json ./
# Compiling and bundling need no install script (and no native module), so none runs here.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY web web
RUN npm run build

# ---- the image that runs ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it passes SIGTERM on to node and reaps the processes of MCP servers that outlive their parent.
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 10001 agentgate \
  && useradd --system --uid 10001 --gid agentgate --home-dir /var/lib/agentgate --no-create-home \
    --shell /usr/sbin/nologin agentgate \
  && mkdir -p /var/lib/agentgate \
  && chown agentgate:agentgate /var/lib/agentgate
WORKDIR /app
# NODE_ENV=production turns on the strict start-up checks: JWT_SECRET_KEY and ALLOWED_ORIGINS must be given.
# DATA_DIR (SQLite, when DATABASE_URL is unset) sits one level down the volume: its lock is a sibling, DATA_DIR.lock.
ENV NODE_ENV=production \
  HOST=0.0.0.0 \
  PORT=8080 \
  DATA_DIR=/var/lib/agentgate/data
COPY --from=prod-deps /src/node_modules node_modules
COPY --from=build /src/dist dist
# package.json gives the version; docs/ and README.md are what the built-in agent's docs search reads.
COPY package.json README.md LICENSE ./
COPY docs docs
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health/live`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=64", "/app/dist/main.js"]
CMD ["serve"]
