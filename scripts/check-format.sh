#!/usr/bin/env bash
# Fails, listing the files, when a C++ file of the project differs from what
# clang-format makes of it with the repository's .clang-format. The version
# is pinned (Debian 12's clang-format-14, installed by install-deps.sh): other
# majors format some constructs differently.
#   scripts/check-format.sh         check
#   scripts/check-format.sh --fix   reformat the files in place
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$tool" >/dev/null; then
  echo "check-format: $tool not found; run scripts/install-deps.sh" >&2
  exit 1
fi
cd "$root"
dirs=(src include tools server python tests bench)
if git rev-parse --git-dir >/dev/null 2>&1; then
  # The tracked files, and new ones in the source directories not yet added:
  # a new file is checked before its first commit, not only after it.
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp'
                       git ls-files --others --exclude-standard -- "${dirs[@]/%//*.cpp}" \
                         "${dirs[@]/%//*.hpp}")
else
  mapfile -t files < <(find "${dirs[@]}" -name '*.[ch]pp')
fi
if [[ "${1:-}" == "--fix" ]]; then
  "$tool" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  if ! "$tool" --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if ((${#bad[@]} > 0)); then
  echo "check-format: ${#bad[@]} file(s) differ from $tool's formatting:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "Run scripts/check-format.sh --fix to reformat them." >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as $tool does"
