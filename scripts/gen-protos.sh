#!/usr/bin/env bash
# Regenerates the Swift code for Protos/*.proto into Sources/OspreyServer/Generated/.
#
# The generated files are committed; run this only after changing a .proto file.
# Needs: protoc (installed with apt-get when missing) and the two protoc plugins,
# protoc-gen-swift (swift-protobuf) and protoc-gen-grpc-swift-2 (grpc-swift-protobuf),
# which are built from source in their own scratch path, .build-protoc/, so that
# they never disturb the package's .build/. The first run takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PROTOBUF_VERSION=1.39.0
GRPC_PROTOBUF_VERSION=2.4.1
scratch="$root/.build-protoc"
out="$root/Sources/OspreyServer/Generated"

if ! command -v protoc > /dev/null; then
    echo "==> installing protoc (protobuf-compiler)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq protobuf-compiler
fi

# A throwaway package whose only job is to build the two plugins at pinned versions.
mkdir -p "$scratch/plugins"
cat > "$scratch/plugins/Package.swift" <<SWIFT
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "OspreyProtocPlugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "$PROTOBUF_VERSION"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "$GRPC_PROTOBUF_VERSION"),
    ],
    targets: [
        .target(name: "Unused", path: "Unused"),
    ]
)
SWIFT
mkdir -p "$scratch/plugins/Unused"
echo "// Intentionally empty: this package exists to build protoc plugins." > "$scratch/plugins/Unused/Unused.swift"

echo "==> building protoc plugins in $scratch (slow the first time)"
for product in protoc-gen-swift protoc-gen-grpc-swift-2; do
    swift build -c release --package-path "$scratch/plugins" --scratch-path "$scratch/build" \
        --product "$product"
done
bin=$(swift build -c release --package-path "$scratch/plugins" --scratch-path "$scratch/build" --show-bin-path)

echo "==> generating Swift into ${out#"$root"/}"
rm -rf "$out"
mkdir -p "$out"
protos=(common.proto schema.proto milvus.proto)
protoc \
    --proto_path="$root/Protos" \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift="$bin/protoc-gen-grpc-swift-2" \
    --swift_out="$out" \
    --swift_opt=Visibility=Package \
    --grpc-swift_out="$out" \
    --grpc-swift_opt=Visibility=Package,Server=true,Client=false \
    "${protos[@]}"
# Only the service file has gRPC content; the plugin writes a stub for the others.
for file in "$out"/*.grpc.swift; do
    if ! grep -q "ServiceProtocol" "$file"; then rm "$file"; fi
done
ls -l "$out"
