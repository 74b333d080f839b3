#!/usr/bin/env bash
# Installs what building and testing Splatpod needs on a fresh Debian machine, skipping whatever
# is already present at the pinned version. Sourced by run.sh and test.sh.
#   - Debian: Mesa lavapipe (software Vulkan), Chromium + ChromeDriver (browser tests),
#     ffmpeg (videos), npm
#   - npm: binaryen 123 (wasm-opt for Trunk's release builds) into .ci/binaryen, put on PATH
#   - rustup target wasm32-unknown-unknown
#   - trunk 0.21.x (0.22 needs rustc 1.96), wasm-bindgen-cli at exactly Cargo.lock's version
# Trunk runs offline (Trunk.toml) and finds wasm-bindgen on PATH, so nothing downloads at build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

need_apt=()
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || [ -n "$(ls /usr/share/vulkan/icd.d/lvp_icd* 2>/dev/null)" ] || need_apt+=(mesa-vulkan-drivers)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
# The server reads uploaded videos with ffmpeg/ffprobe (and the tests encode their clip with it).
{ command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; } || need_apt+=(ffmpeg)
# npm installs wasm-opt below (and Lighthouse for bench/lighthouse.sh); the interop tests run
# PlayCanvas's splat-transform (npm) under Node.
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    # With recommends, as validated here (fonts and helpers headless Chromium may use).
    echo "setup: apt-get install ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}" libvulkan1
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
    echo "setup: cargo install trunk 0.21 (about 13 minutes on 2 cores)"
    cargo install trunk --version '~0.21' --locked
fi

wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wbg"; then
    echo "setup: cargo install wasm-bindgen-cli $wbg (about 7 minutes on 2 cores)"
    # Not --locked: one of its locked dependencies is no longer on the registry.
    cargo install wasm-bindgen-cli --version "=$wbg"
fi

# wasm-opt for release builds: npm's binaryen (Debian's 108 mis-numbers the second table, the
# externref table wasm-bindgen exports). Trunk.toml pins version_123 and finds it on PATH.
if [ ! -x .ci/binaryen/node_modules/.bin/wasm-opt ]; then
    echo "setup: npm ci binaryen (wasm-opt) in .ci/binaryen"
    (cd .ci/binaryen && npm ci --no-audit --no-fund >/dev/null)
fi
export PATH="$PWD/.ci/binaryen/node_modules/.bin:$PATH"

# tests/interop: splat-transform at the version package-lock.json pins (its optional peer, the
# PlayCanvas engine, and the WebGPU binding's install script are not needed for conversions).
st_want=$(awk -F'"' '/"node_modules\/@playcanvas\/splat-transform"/ { getline; print $4; exit }' tests/interop/package-lock.json)
st_have=$(node -p 'require("./tests/interop/node_modules/@playcanvas/splat-transform/package.json").version' 2>/dev/null || true)
if [ "$st_have" != "$st_want" ]; then
    echo "setup: npm ci in tests/interop (splat-transform $st_want)"
    (cd tests/interop && npm ci --omit=peer --ignore-scripts --no-audit --no-fund >/dev/null)
fi

export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
# lavapipe warns on every device open without one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    XDG_RUNTIME_DIR=$(mktemp -d)
    export XDG_RUNTIME_DIR
fi
