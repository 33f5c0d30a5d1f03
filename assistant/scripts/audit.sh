#!/usr/bin/env bash
# `make audit`: known vulnerabilities in both runtimes' locked requirements (pip-audit against
# PyPI's vulnerability data). Fails when a pinned package has a known vulnerability with a fixed
# release, and says so plainly when the vulnerability data cannot be reached: pip-audit then
# audits nothing, which must never read as "no vulnerabilities".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
audit=.venv-audit/bin/pip-audit
status=0
for lock in requirements/rasa.txt "requirements/actions.txt requirements/actions-nodeps.txt"; do
  args=(); for f in $lock; do args+=(-r "$f"); done
  out="$("$audit" --strict --no-deps --disable-pip --progress-spinner off --desc on \
        "${args[@]}" 2>&1)"; rc=$?
  if grep -q "could not be audited" <<<"$out"; then
    echo "audit: $lock: vulnerability data unreachable from this machine; nothing was audited" >&2
    status=3
  elif [ "$rc" -ne 0 ]; then
    echo "$out"
    echo "audit: $lock: known vulnerabilities above (upgrade to the fixed versions listed)" >&2
    status=1
  else
    echo "audit: $lock: no known vulnerabilities"
  fi
done
exit "$status"
