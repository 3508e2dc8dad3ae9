"""A Python grpcio client of llmlb's DispatchService, built from dispatch.proto alone.

Usage: dispatch_client.py GENERATED_DIR TARGET API_KEY MODEL
GENERATED_DIR holds the output of
  protoc -I proto --python_out=DIR --grpc_python_out=DIR \
    --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin proto/llmlb/v1/dispatch.proto
Prints one JSON object with what each call returned; exits non-zero on any failure.
"""

import json
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from llmlb.v1 import dispatch_pb2 as pb  # noqa: E402
from llmlb.v1 import dispatch_pb2_grpc as pb_grpc  # noqa: E402


def main() -> None:
    _, _, target, api_key, model = sys.argv
    metadata = [("authorization", f"Bearer {api_key}")]
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DispatchServiceStub(channel)

        nodes = stub.ListNodes(pb.ListNodesRequest(), metadata=metadata, timeout=10)

        messages = [pb.ChatMessage(role=pb.CHAT_ROLE_USER, content="Hello from Python")]
        sampling = pb.SamplingParams(max_tokens=8, temperature=0.5)
        chat = stub.CreateChatCompletion(
            pb.CreateChatCompletionRequest(model=model, messages=messages, sampling=sampling),
            metadata=metadata,
            timeout=30,
        )

        events, text, done = [], "", None
        stream = stub.StreamChatCompletion(
            pb.StreamChatCompletionRequest(model=model, messages=messages, sampling=sampling),
            metadata=metadata,
            timeout=30,
        )
        for msg in stream:
            kind = msg.WhichOneof("event")
            events.append(kind)
            if kind == "delta":
                text += msg.delta.content
            elif kind == "done":
                done = msg.done

        try:
            stub.CreateChatCompletion(
                pb.CreateChatCompletionRequest(model="no-such-model", messages=messages),
                metadata=metadata,
                timeout=10,
            )
            unknown_model = "OK"
        except grpc.RpcError as err:
            unknown_model = err.code().name

    print(
        json.dumps(
            {
                "nodes": [{"id": n.id, "state": pb.NodeState.Name(n.state), "models": list(n.models)} for n in nodes.nodes],
                "chat": {
                    "job_id": chat.job_id,
                    "content": chat.message.content,
                    "role": pb.ChatRole.Name(chat.message.role),
                    "finish_reason": pb.FinishReason.Name(chat.finish_reason),
                    "completion_tokens": chat.usage.completion_tokens,
                    "node_id": chat.node_id,
                    "route_reason": chat.route_reason,
                },
                "stream": {
                    "events": events,
                    "text": text,
                    "finish_reason": pb.FinishReason.Name(done.finish_reason) if done else None,
                    "node_id": done.node_id if done else None,
                },
                "unknown_model": unknown_model,
            }
        )
    )


if __name__ == "__main__":
    main()
