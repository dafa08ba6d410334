# Vigil application image: one image for the worker, the dispatcher and the gateway
# (docker-compose.yml picks the entry point with `command`). TypeScript runs through tsx,
# as with `npm start`, so there is no separate build step.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first, so that a source change does not reinstall them. Dev dependencies
# (vitest, typescript, pino-pretty…) are not needed at run time; tsx is a runtime dependency.
# The workbench SDK is a workspace: npm ci needs its package.json to link it.
COPY package.json package-lock.json ./
COPY sdk/package.json ./sdk/
RUN npm ci --omit=dev && npm cache clean --force

# Only the runtime sources: no node_modules, .data, .git or tests from the build context.
COPY tsconfig.json ./
COPY activities ./activities
COPY console ./console
COPY db ./db
COPY examples ./examples
COPY gateway ./gateway
COPY platform ./platform
COPY sdk ./sdk
COPY simulator ./simulator
COPY workers ./workers
COPY workflows ./workflows

# VIGIL_DATA_DIR defaults to ./.data; make it writable for the unprivileged user.
RUN mkdir -p /app/.data && chown node:node /app/.data

# Run as the image's built-in unprivileged `node` user (uid 1000); the code stays root-owned
# and read-only to it.
USER node

ENV PORT=8080
EXPOSE 8080

CMD ["npx", "tsx", "gateway/main.ts"]
