export { createEngineAdapter, ENGINE_KINDS, isEngineKind } from "./registry.js";
export type {
  EndpointKind,
  EngineAdapter,
  EngineAdapterOptions,
  EngineKindName,
  EngineModel,
  EngineProbe,
} from "./types.js";
