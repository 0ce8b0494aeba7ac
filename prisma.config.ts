// Prisma CLI configuration (Prisma 7 reads the datasource URL from here, not from schema.prisma).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "prisma/config";

const root = path.dirname(fileURLToPath(import.meta.url));

// Prisma 7 does not load .env by itself; values already in the environment win.
const envFile = path.join(root, ".env");
if (existsSync(envFile)) process.loadEnvFile(envFile);

// This machine cannot download Prisma's native schema engine: use the WASM shim
// (docs/prisma-offline.md). Export PRISMA_SCHEMA_ENGINE_BINARY to use a native engine instead.
// The config is loaded before the CLI looks for engine binaries, so setting it here is enough.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(root, "scripts", "schema-engine-wasm-shim.mjs");

export default defineConfig({
  schema: path.join(root, "prisma", "schema.prisma"),
  migrations: {
    path: path.join(root, "prisma", "migrations"),
  },
  datasource: {
    url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/batchfleet",
  },
});
