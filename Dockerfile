# syntax=docker/dockerfile:1
# huddle: dependencies installed once; the checks run in their own stage on the same base
# image (so on exactly the Node version that runs in production); the runtime image holds
# dist/ alone (the server bundled with its dependencies, and the page) and runs as `node`.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# `docker build --target check .` fails the build when a check fails; the runtime stage
# does not depend on it, so building the image alone skips the checks.
FROM deps AS check
COPY . .
RUN npm run typecheck \
 && npm run lint \
 && npx tap test/unit/*.test.ts test/deploy/*.test.ts

FROM deps AS build
COPY tsconfig.json ./
COPY scripts/build-page.ts scripts/build-server.ts ./scripts/
COPY src ./src
# The page into dist/public/, the server with every production dependency into dist/server.js.
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX: glibc gives each thread that allocates (V8's workers, libuv's pool) an
# arena of its own; two arenas keep about 2.5 MiB less resident at rest on a 1 GiB task, with
# no CPU cost per delivery measurable under load (docs/benchmarks.md, bench:idle).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# No node_modules: the bundle carries what it uses (see scripts/build-server.ts).
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# No curl in the slim image: node's own fetch asks the liveness endpoint.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
