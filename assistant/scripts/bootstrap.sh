#!/usr/bin/env bash
# Creates one runtime's virtual environment and installs its pinned requirements.
#   bootstrap.sh rasa     -> .venv-rasa    (Python 3.10, rasa 3.6.21)
#   bootstrap.sh actions  -> .venv-actions (Python 3.11, rasa-sdk + knowledge stack)
#   bootstrap.sh browser  -> Debian's chromium + chromedriver (console browser tests)
#   bootstrap.sh services -> Debian's PostgreSQL, Redis and nginx (the scaled profile)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

find_python() {  # $1 = minor version, e.g. 3.10
  local v="$1" candidate
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/"$v".*/bin/python; do
      [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
  fi
  command -v "python$v" 2>/dev/null && return 0
  return 1
}

pip_install() {  # $1 = venv dir, rest = pip args
  local venv="$1"; shift
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "$@"
}

case "${1:-}" in
  rasa)
    py="$(find_python 3.10)" || {
      echo "bootstrap: Python 3.10 not found (rasa 3.6.21 needs it). Install it with" \
           "'pyenv install 3.10' or provide python3.10 on PATH." >&2; exit 2; }
    [ -x .venv-rasa/bin/python ] || "$py" -m venv .venv-rasa
    pip_install .venv-rasa -r requirements/rasa.txt
    ;;
  actions)
    py="$(find_python 3.11)" || {
      echo "bootstrap: Python 3.11 not found (the action server needs it). Install it with" \
           "'pyenv install 3.11' or provide python3.11 on PATH." >&2; exit 2; }
    [ -x .venv-actions/bin/python ] || "$py" -m venv .venv-actions
    # torch first, pinned: the CPU wheel; otherwise sentence-transformers pulls a CUDA build.
    pip_install .venv-actions torch==2.13.0
    pip_install .venv-actions -r requirements/actions.txt
    pip_install .venv-actions --no-deps -r requirements/actions-nodeps.txt
    ;;
  browser)
    # Debian's chromium + chromedriver drive the console's browser tests; nothing downloads
    # a browser at test time (selenium is pointed at /usr/bin/chromedriver).
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    command -v apt-get >/dev/null || {
      echo "bootstrap: chromium and chromedriver are missing and apt-get is not available;" \
           "install Debian's chromium and chromium-driver packages" >&2; exit 2; }
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
    ;;
  services)
    # The scaled profile's PostgreSQL tracker store, Redis lock store and nginx balancer,
    # from Debian's packages. The project starts its own instances on its own ports and data
    # directories (assistant/scaleout/), so the packages' system services are kept from
    # starting at install time (policy-rc.d answers 101 = "not allowed").
    missing=()
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    [ "${#missing[@]}" -eq 0 ] && exit 0
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    command -v apt-get >/dev/null || {
      echo "bootstrap: ${missing[*]} missing and apt-get is not available;" \
           "install Debian's postgresql, redis-server and nginx packages" >&2; exit 2; }
    policy=/usr/sbin/policy-rc.d; added_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
      $sudo chmod +x "$policy"; added_policy=1
    fi
    trap '[ -n "$added_policy" ] && $sudo rm -f "$policy"' EXIT
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    ;;
  *)
    echo "usage: bootstrap.sh rasa|actions|browser|services" >&2; exit 2 ;;
esac
