# batchfleet: one image for every role (intake, build, submit, poll, process, admin, simulator).
# Node 24 in production; the code also runs on Node >= 20.19. The build stage compiles the
# TypeScript (and the generated Prisma client) to dist/; the image runs it with plain node.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
# The simulator is a workspace package (packages/openai-batch-simulator): npm ci links it, and it
# is built to plain JavaScript beside the fleet. `npm ci` runs `prepare` (prisma generate).
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build && npm run build -w packages/openai-batch-simulator

FROM node:24-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Production dependencies only (no tsx, no TypeScript). prisma and the schema stay for `prisma migrate deploy`.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
# The simulator (a dev dependency of the fleet, so not installed by --omit=dev) ships in the image for
# `batchfleet simulator` and the compose file's simulator service; its own dependencies are the fleet's.
COPY --from=build /app/packages/openai-batch-simulator/package.json ./packages/openai-batch-simulator/package.json
COPY --from=build /app/packages/openai-batch-simulator/dist ./packages/openai-batch-simulator/dist
COPY --from=build /app/packages/openai-batch-simulator/bin ./packages/openai-batch-simulator/bin
COPY --from=build /app/packages/openai-batch-simulator/scenarios ./packages/openai-batch-simulator/scenarios
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN ln -sfn ../packages/openai-batch-simulator node_modules/openai-batch-simulator # linked even where npm leaves a dev-only workspace out
RUN mkdir -p /app/var && chown -R node:node /app/var
USER node
# Exec form so SIGTERM reaches node (npm start would swallow it): graceful shutdown depends on it.
ENTRYPOINT ["node"]
CMD ["dist/workers/all.js"]
