#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter (Rasa 3.6 needs exactly 3.10).
set -euo pipefail
candidates=(python3.10)
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/3.10*; do candidates+=("$dir/bin/python3.10"); done
fi
for dir in "$HOME"/.pyenv/versions/3.10* /usr/local/bin /usr/bin; do
  candidates+=("$dir/python3.10" "$dir/bin/python3.10")
done
for py in "${candidates[@]}"; do
  if "$py" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    command -v "$py" || echo "$py"
    exit 0
  fi
done
cat >&2 <<'MSG'
error: Python 3.10 with the venv module was not found; Rasa 3.6 runs only on Python 3.10.
Install it, then run the command again, e.g.:
  pyenv install 3.10.13            (with pyenv)
  apt-get install python3.10 python3.10-venv   (Debian/Ubuntu with 3.10 packages)
or point the Makefile at it: make PYTHON310=/path/to/python3.10 ...
MSG
exit 1
