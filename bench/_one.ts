import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChatRole, DispatchService } from "../src/gen/llmlb/v1/dispatch_pb.js";
const c = createClient(DispatchService, createGrpcTransport({ baseUrl: "http://127.0.0.1:18555" }));
const h = { headers: { authorization: "Bearer sk-x" } };
console.log(await c.getStrategy({}, h).catch(e => e));
console.log(await c.createChatCompletion({ model: "llama-3.1-8b", messages: [{ role: ChatRole.USER, content: "Hello" }], sampling: { maxTokens: 8 } }, h).catch(e => e));
