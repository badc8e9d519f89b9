#!/usr/bin/env bash
# Installs the Debian packages weft needs to build, test and run.
# Idempotent and silent when everything is already present.
set -euo pipefail

packages=(
	build-essential make pkg-config
	libnng-dev libmsgpack-dev libzstd-dev librocksdb-dev libcmocka-dev
	libmicrohttpd-dev libgnutls28-dev libmbedtls-dev openssl libjansson-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev
)
# `scripts/deps.sh fuzz`: also what `make fuzz` needs (clang with libFuzzer).
if [[ ${1:-} == fuzz ]]; then
	packages+=(clang libclang-rt-dev)
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
