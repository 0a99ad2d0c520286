"""Protocol drift: Osprey's Protos/ against the descriptors inside the installed pymilvus.

Every message, field, enum value and RPC that Osprey declares must match pymilvus's
descriptors exactly (name, number, type, label, oneof, referenced type). Fields that
pymilvus has and Osprey leaves out must be listed in OMITTED_FIELDS, so that new fields in
a newer pymilvus are noticed instead of silently dropped.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

PROTOS = Path(__file__).resolve().parent.parent / "Protos"
PROTO_FILES = ("common.proto", "schema.proto", "milvus.proto")

# Fields of declared messages that Osprey leaves out on purpose, with the reason.
OMITTED_FIELDS = {
    # Its type lives in msg.proto (internal replication positions); Osprey never sets it.
    "milvus.proto.milvus.FlushResponse.channel_cps",
}


def _compile_ours(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc

    out = tmp_path / "osprey.pb"
    status = protoc.main(["protoc", f"-I{PROTOS}", f"--descriptor_set_out={out}",
                          *PROTO_FILES])
    assert status == 0, "protoc failed to compile Protos/"
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _pymilvus_files() -> list[descriptor_pb2.FileDescriptorProto]:
    from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

    files = []
    for module in (common_pb2, schema_pb2, milvus_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    return files


def _index(files):
    """Maps full names to message, enum and method descriptor protos."""
    messages, enums, methods = {}, {}, {}

    def walk(prefix, message):
        name = f"{prefix}.{message.name}"
        messages[name] = message
        for enum in message.enum_type:
            enums[f"{name}.{enum.name}"] = enum
        for nested in message.nested_type:
            walk(name, nested)

    for f in files:
        for message in f.message_type:
            walk(f.package, message)
        for enum in f.enum_type:
            enums[f"{f.package}.{enum.name}"] = enum
        for service in f.service:
            for method in service.method:
                methods[f"{f.package}.{service.name}/{method.name}"] = method
    return messages, enums, methods


def _field_facts(message, field):
    oneof = None
    if field.HasField("oneof_index") and not field.proto3_optional:
        oneof = message.oneof_decl[field.oneof_index].name
    return {
        "number": field.number,
        "type": descriptor_pb2.FieldDescriptorProto.Type.Name(field.type),
        "label": descriptor_pb2.FieldDescriptorProto.Label.Name(field.label),
        "type_name": field.type_name,
        "oneof": oneof,
        "proto3_optional": field.proto3_optional,
    }


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    ours = _index(_compile_ours(tmp_path_factory.mktemp("drift")).file)
    theirs = _index(_pymilvus_files())
    return ours, theirs


def test_packages_match():
    from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

    assert [m.DESCRIPTOR.package for m in (common_pb2, schema_pb2, milvus_pb2)] == [
        "milvus.proto.common", "milvus.proto.schema", "milvus.proto.milvus"]


def test_every_declared_field_matches_pymilvus(indexes):
    (our_messages, _, _), (their_messages, _, _) = indexes
    problems = []
    for name, ours in sorted(our_messages.items()):
        theirs = their_messages.get(name)
        if theirs is None:
            problems.append(f"message {name} does not exist in pymilvus")
            continue
        their_fields = {f.name: f for f in theirs.field}
        for field in ours.field:
            other = their_fields.get(field.name)
            if other is None:
                problems.append(f"{name}.{field.name}: no such field in pymilvus")
                continue
            a, b = _field_facts(ours, field), _field_facts(theirs, other)
            if a != b:
                diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
                problems.append(f"{name}.{field.name}: ours vs pymilvus {diff}")
    assert not problems, "\n".join(problems)


def test_no_pymilvus_field_is_silently_missing(indexes):
    (our_messages, _, _), (their_messages, _, _) = indexes
    missing = []
    for name, ours in sorted(our_messages.items()):
        declared = {f.name for f in ours.field}
        for field in their_messages[name].field:
            full = f"{name}.{field.name}"
            if field.name not in declared and full not in OMITTED_FIELDS:
                missing.append(full)
    assert not missing, "fields pymilvus has and Protos/ lacks:\n" + "\n".join(missing)


def test_every_enum_matches_pymilvus(indexes):
    (_, our_enums, _), (_, their_enums, _) = indexes
    problems = []
    for name, ours in sorted(our_enums.items()):
        theirs = their_enums.get(name)
        if theirs is None:
            problems.append(f"enum {name} does not exist in pymilvus")
            continue
        a = [(v.name, v.number) for v in ours.value]
        b = [(v.name, v.number) for v in theirs.value]
        if a != b:
            problems.append(f"enum {name}: only ours {sorted(set(a) - set(b))}, "
                            f"only pymilvus {sorted(set(b) - set(a))}")
    assert not problems, "\n".join(problems)


def test_every_rpc_matches_pymilvus(indexes):
    (_, _, our_methods), (_, _, their_methods) = indexes
    assert our_methods, "Protos/milvus.proto declares no RPCs"
    problems = []
    for name, ours in sorted(our_methods.items()):
        theirs = their_methods.get(name)
        if theirs is None:
            problems.append(f"rpc {name} does not exist in pymilvus")
        elif (ours.input_type, ours.output_type) != (theirs.input_type, theirs.output_type):
            problems.append(f"rpc {name}: ours {ours.input_type} -> {ours.output_type}, "
                            f"pymilvus {theirs.input_type} -> {theirs.output_type}")
        elif ours.client_streaming or ours.server_streaming:
            problems.append(f"rpc {name} must be unary")
    assert not problems, "\n".join(problems)


# Milvus RPCs that neither Protos/ declares nor UnservedMilvusMethods answers: internal
# replication and test hooks, whose responses carry no status to put an answer in.
INTERNAL_RPCS = {"Dummy", "GetReplicateInfo", "CreateReplicateStream"}
UNSERVED_SWIFT = (Path(__file__).resolve().parent.parent
                  / "Sources" / "OspreyServer" / "UnservedMilvusMethods.swift")


def _unserved_table() -> dict[str, int]:
    """RPC name → status field number (0: bare Status) from UnservedMilvusMethods.swift."""
    import re

    text = UNSERVED_SWIFT.read_text()

    def names(list_name):
        body = re.search(rf"static let {list_name}: \[String\] = \[(.*?)\]", text, re.S)
        assert body, f"{list_name} not found in {UNSERVED_SWIFT.name}"
        return re.findall(r'"(\w+)"', body.group(1))

    table = {name: 0 for name in names("statusResponses")}
    table.update({name: 1 for name in names("wrappedStatusResponses")})
    for name, field in re.findall(r'Method\(name: "(\w+)", statusField: (\d+)\)', text):
        table[name] = int(field)
    return table


def test_every_other_rpc_gets_a_status_answer(indexes):
    """Each Milvus RPC that Protos/ does not declare is answered by UnservedMilvusMethods,
    which must know where the response keeps its status."""
    from pymilvus.grpc_gen import milvus_pb2

    (_, _, our_methods), _ = indexes
    declared = {name.split("/")[1] for name in our_methods}
    table = _unserved_table()
    service = milvus_pb2.DESCRIPTOR.services_by_name["MilvusService"]
    problems = []
    for method in service.methods:
        if method.name in declared or method.name in INTERNAL_RPCS:
            if method.name in table:
                problems.append(f"{method.name} is declared (or internal) and also in the table")
            continue
        output = method.output_type
        if output.full_name == "milvus.proto.common.Status":
            expected = 0
        else:
            # Usually `status`; AlterCollectionSchemaResponse calls it `alter_status`.
            statuses = [f.number for f in output.fields if f.message_type is not None
                        and f.message_type.full_name == "milvus.proto.common.Status"]
            assert len(statuses) == 1, f"{method.name}: {output.full_name} has no one status"
            expected = statuses[0]
        if table.get(method.name) != expected:
            problems.append(f"{method.name}: table says {table.get(method.name)}, "
                            f"pymilvus says status field {expected}")
    stale = set(table) - {m.name for m in service.methods}
    problems += [f"{name} is in the table but not in pymilvus" for name in sorted(stale)]
    assert not problems, "\n".join(problems)
