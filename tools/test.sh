#!/usr/bin/env bash
# The project's test command: installs what is missing, compiles every kernel to PTX for sm_80/sm_90
# (clang-19), builds the emulated CUDA device from source (g++), builds the solution (warnings are errors
# in src/), runs every test, and ends with one "N passed, N failed, N skipped" line. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

./tools/setup.sh
./tools/ptx/check.sh
./tools/emu/build.sh
dotnet build Viper.Engine.sln -c Release -nologo -v quiet

results=$(mktemp -d)
status=0
dotnet test Viper.Engine.sln -c Release --no-build -nologo --logger "console;verbosity=normal" \
  --logger "trx;LogFilePrefix=run" --results-directory "$results" 2>&1 | tee "$results/console.log" || status=$?

# Each failure again at the very end, with its message: CI shows only the tail of a long log.
grep -A 12 '^  Failed ' "$results/console.log" || true

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [[ -e "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed)))
  skipped=$((skipped + $(get total) - $(get passed) - $(get failed)))
done
rm -rf "$results"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if ((status == 0 && passed == 0)); then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
