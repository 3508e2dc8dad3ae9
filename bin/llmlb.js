#!/usr/bin/env node
// Entry shim: registers tsx so the TypeScript sources run directly (no build step to forget).
import { register } from "tsx/esm/api";
register();
await import("../src/main.ts");
