# batchfleet: one image for every role (intake, build, submit, poll, process, admin, simulator).
# Node 24 in production; the code also runs on Node >= 20.19. The build stage compiles the
# TypeScript (and the generated Prisma client) to dist/; the image runs it with plain node.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
# `npm ci` runs `prepare`, which generates the Prisma client into src/generated/prisma.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build

FROM node:24-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Production dependencies only (no tsx, no TypeScript). prisma and the schema stay for `prisma migrate deploy`.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN mkdir -p /app/var && chown -R node:node /app/var
USER node
# Exec form so SIGTERM reaches node (npm start would swallow it): graceful shutdown depends on it.
ENTRYPOINT ["node"]
CMD ["dist/workers/all.js"]
