# batchfleet: one image for every role (intake, build, submit, poll, process, admin, simulator).
# Node 24 in production; the code also runs on Node >= 20.19.
FROM node:24-slim AS base
WORKDIR /app
ENV NODE_ENV=production
# Manifests and the Prisma schema first, so `npm ci` (and its `prisma generate`) is cached.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
# The simulator is a workspace package (packages/openai-batch-simulator); tsconfig.json maps its
# name to its TypeScript sources for tsx, so `src/cli/main.ts simulator` runs it without a build.
COPY tsconfig.json ./
COPY packages ./packages
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY workers ./workers
RUN mkdir -p /app/var && chown -R node:node /app/var
USER node
# Exec form so SIGTERM reaches node (npm start would swallow it): graceful shutdown depends on it.
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["workers/all.ts"]
