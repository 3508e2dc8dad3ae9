import {
  createRegistry,
  type DescFile,
  type MessageInitShape,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponseSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Answer = NonNullable<MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]>;

/** What reflection knows: the services on the router and every file they need. */
interface ReflectionIndex {
  services: string[];
  files: Map<string, DescFile>;
  /** Every message, enum, service and extension of those files, by full name. */
  registry: Registry;
}

function buildIndex(router: ConnectRouter): ReflectionIndex {
  const files = new Map<string, DescFile>();
  // Keyed by the path as written in imports ("llmlb/v1/dispatch.proto"); DescFile.name lacks ".proto".
  const add = (f: DescFile) => {
    if (files.has(f.proto.name)) return;
    files.set(f.proto.name, f);
    for (const d of f.dependencies) add(d);
  };
  const services = new Set<string>();
  for (const h of router.handlers) {
    services.add(h.service.typeName);
    add(h.service.file);
  }
  return { services: [...services].sort(), files, registry: createRegistry(...files.values()) };
}

/** The file declaring a symbol: a type or service by full name, or a method, field or oneof by its parent's. */
function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  const direct = registry.get(symbol);
  if (direct) return direct.file;
  const dot = symbol.lastIndexOf(".");
  const parent = dot > 0 ? registry.get(symbol.slice(0, dot)) : undefined;
  const member = symbol.slice(dot + 1);
  if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
  if (
    parent?.kind === "message" &&
    (parent.fields.some((f) => f.name === member) || parent.oneofs.some((o) => o.name === member))
  ) {
    return parent.file;
  }
  return undefined;
}

/** A file and its transitive dependencies, serialized as FileDescriptorProtos (the file first). */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const d of f.dependencies) visit(d);
  };
  visit(file);
  return out;
}

function notFound(message: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } };
}

function answer(index: ReflectionIndex, req: ServerReflectionRequest): Answer {
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename": {
      const f = index.files.get(r.value);
      return f
        ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(f) } }
        : notFound(`file not found: ${r.value}`);
    }
    case "fileContainingSymbol": {
      const f = fileOfSymbol(index.registry, r.value);
      return f
        ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(f) } }
        : notFound(`symbol not found: ${r.value}`);
    }
    case "fileContainingExtension":
      // None of the served files declares extensions.
      return notFound(`extension not found: ${r.value.containingType} ${r.value.extensionNumber}`);
    case "allExtensionNumbersOfType":
      return index.registry.getMessage(r.value)
        ? { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } }
        : notFound(`type not found: ${r.value}`);
    default:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" },
      };
  }
}

/**
 * gRPC server reflection (v1, and v1alpha for older clients), built from the protobuf-es file
 * descriptors of the services on this router, so grpcurl, Postman and Evans work without .proto
 * files. Register it last; the index is built on first use anyway. No credentials needed: it
 * reveals the schema only, never data.
 */
export function registerReflectionService(router: ConnectRouter): void {
  let index: ReflectionIndex | undefined;
  const impl: ServiceImpl<typeof ServerReflection> = {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        index ??= buildIndex(router);
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(index, req) };
      }
    },
  };
  router.service(ServerReflection, impl);
  // v1alpha is v1 under another package name, field for field: the same handler serves both.
  router.service(ServerReflectionV1Alpha, impl as unknown as ServiceImpl<typeof ServerReflectionV1Alpha>);
}
