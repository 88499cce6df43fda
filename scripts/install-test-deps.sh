#!/usr/bin/env bash
# Installs what the real-VS-Code tests need: Debian packages (chromium, ripgrep, kerberos headers)
# and code-server (which carries the VS Code server) into a cache folder outside the extension's
# node_modules, keyed by version. Idempotent: a second run only checks and prints.
#
#   bash scripts/install-test-deps.sh          # install or check
#   bash scripts/install-test-deps.sh --print  # print the VS Code server path, install nothing
#
# PRUNESCOPE_CODE_SERVER_DIR overrides the cache folder (default ~/.cache/prunescope/code-server/<version>);
# scripts/vscode-test.mjs looks in the same place.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3 # carries VS Code 1.100.3, the last line that runs on Node 20
RIPGREP_PKG_VERSION=1.15.11 # @vscode/ripgrep version that code-server pins
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
DEBIAN_PACKAGES=(libkrb5-dev pkg-config ripgrep chromium)

CACHE_DIR="${PRUNESCOPE_CODE_SERVER_DIR:-${HOME:-/root}/.cache/prunescope/code-server/$CODE_SERVER_VERSION}"
VSCODE_DIR="$CACHE_DIR/node_modules/code-server/lib/vscode"
SERVER_MAIN="$VSCODE_DIR/out/server-main.js"
STAMP="$CACHE_DIR/.prunescope-installed"

if [[ "${1:-}" == "--print" ]]; then
  echo "$SERVER_MAIN"
  exit 0
fi

log() { echo "install-test-deps: $*"; }
started=$SECONDS

# --- Debian packages -------------------------------------------------------------------------
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) != 0 ]]; then SUDO=(sudo -n); fi
  log "apt-get install ${missing[*]}"
  apt_log="$(mktemp -t prunescope-apt.XXXXXX.log)"
  if ! "${SUDO[@]}" apt-get update -qq >"$apt_log" 2>&1 ||
    ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$apt_log" 2>&1; then
    tail -n 30 "$apt_log"
    log "ERROR: apt-get failed (full log: $apt_log)"
    exit 1
  fi
  rm -f "$apt_log"
  log "Debian packages installed"
else
  log "Debian packages already present: ${DEBIAN_PACKAGES[*]}"
fi
[[ -x /usr/bin/chromium ]] || { log "ERROR: /usr/bin/chromium is missing after apt-get"; exit 1; }

# --- code-server -----------------------------------------------------------------------------
# The native modules the VS Code server loads at start; each must load in this Node.
NATIVE_MODULES=(kerberos node-pty @vscode/spdlog native-watchdog @parcel/watcher)

check_native() {
  local m
  for m in "${NATIVE_MODULES[@]}"; do
    if ! (cd "$VSCODE_DIR" && node -e "require('./node_modules/$m')" >/dev/null 2>&1); then
      echo "$m"
      return 1
    fi
  done
  built_files_present || { echo "a file the postinstall builds (${BUILT_FILES[*]})"; return 1; }
}

# Files the postinstall builds or fetches; checking they exist keeps the cached path instant.
BUILT_FILES=(
  node_modules/kerberos/build/Release/kerberos.node
  node_modules/node-pty/build/Release/pty.node
  node_modules/@vscode/spdlog/build/Release/spdlog.node
  node_modules/native-watchdog/build/Release/watchdog.node
  node_modules/@vscode/ripgrep/bin/rg
  extensions/node_modules/typescript/package.json
)
built_files_present() {
  local f
  for f in "${BUILT_FILES[@]}"; do [[ -e "$VSCODE_DIR/$f" ]] || return 1; done
}

if [[ -f "$STAMP" && -f "$SERVER_MAIN" && "$(cat "$STAMP")" == "$CODE_SERVER_VERSION $(node --version)" ]] && built_files_present; then
  log "code-server $CODE_SERVER_VERSION already installed in $CACHE_DIR ($((SECONDS - started)) s)"
  exit 0
fi

log "installing code-server $CODE_SERVER_VERSION into $CACHE_DIR (a few minutes, ~300 MB)"
mkdir -p "$CACHE_DIR"

# @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache folder already holds the
# release archive: put Debian's rg there.
rg_cache="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION"
mkdir -p "$rg_cache"
if [[ ! -s "$rg_cache/$RIPGREP_ASSET" ]]; then
  tar czf "$rg_cache/$RIPGREP_ASSET" -C /usr/bin rg
fi

# A package.json of its own keeps this install apart from the extension's dependencies. Its
# allowScripts approves the install scripts; the dangerously-allow-all-scripts variable also covers
# the nested `npm install`s that code-server's postinstall runs in lib/vscode and lib/vscode/extensions
# (their package.json files have no allowScripts of their own).
cat >"$CACHE_DIR/package.json" <<EOF
{
  "name": "prunescope-test-code-server",
  "private": true,
  "description": "VS Code server for PruneScope's extension-host tests (installed by scripts/install-test-deps.sh)",
  "allowScripts": { "code-server": true, "argon2": true }
}
EOF
rm -f "$STAMP"

install_log="$CACHE_DIR/install.log"
# code-server's postinstall refuses to run as root without unsafe-perm; one native build calls
# `npx node-gyp`, which needs yes=true here.
if ! (cd "$CACHE_DIR" &&
  CI=true \
    npm_config_unsafe_perm=true \
    npm_config_yes=true \
    npm_config_dangerously_allow_all_scripts=true \
    npm_config_foreground_scripts=true \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false \
    npm install --no-save "code-server@$CODE_SERVER_VERSION" >"$install_log" 2>&1); then
  tail -n 40 "$install_log"
  log "ERROR: npm install code-server failed (full log: $install_log)"
  exit 1
fi

# npm may install the package without running its scripts (allowScripts policy): check what the
# postinstall should have produced and run it explicitly if it did not.
if ! built_files_present || ! bad=$(check_native); then
  log "code-server's postinstall did not run or did not finish (${bad:-built files missing}); running it explicitly"
  if ! (cd "$CACHE_DIR/node_modules/code-server" &&
    npm_config_user_agent="npm/$(npm --version) node/$(node --version) linux x64" \
      npm_config_unsafe_perm=true \
      npm_config_yes=true \
      npm_config_dangerously_allow_all_scripts=true \
      npm_config_foreground_scripts=true \
      sh ./postinstall.sh >>"$install_log" 2>&1); then
    tail -n 40 "$install_log"
    log "ERROR: code-server postinstall failed (full log: $install_log)"
    exit 1
  fi
fi
if ! bad=$(check_native); then
  log "ERROR: $bad does not load in $(node --version) after the install (log: $install_log)"
  exit 1
fi
[[ -f "$SERVER_MAIN" ]] || { log "ERROR: $SERVER_MAIN is missing"; exit 1; }

echo "$CODE_SERVER_VERSION $(node --version)" >"$STAMP"
log "code-server $CODE_SERVER_VERSION installed in $CACHE_DIR ($(du -sh "$CACHE_DIR" | cut -f1), $((SECONDS - started)) s)"
