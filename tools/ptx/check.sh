#!/usr/bin/env bash
# PTX check: compiles every kernels/*.cu (and the test kernels in tests/kernels) with Debian's clang-19 for
# sm_80 and sm_90 (device side only, no CUDA toolkit), failing on any error or warning. Run by tools/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
clang=${CLANG:-clang-19}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
count=0
for arch in sm_80 sm_90; do
  for cu in kernels/*.cu tests/kernels/*.cu; do
    name=$(basename "$cu" .cu)
    # PTX ISA 7.8 (CUDA 11.8) covers sm_90 and the *_sync warp intrinsics.
    if ! "$clang" -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch="$arch" -Xclang -target-feature -Xclang +ptx78 \
        -std=c++17 -O3 -Wall -Wextra -Werror -include tools/ptx/clang_prelude.h -Ikernels \
        -S -o "$out/$name.$arch.ptx" "$cu"; then
      echo "ptx-check: $cu failed for $arch" >&2
      status=1
      continue
    fi
    grep -q '\.entry' "$out/$name.$arch.ptx" || { echo "ptx-check: $cu has no kernel entry for $arch" >&2; status=1; }
    count=$((count + 1))
  done
done
echo "ptx-check: $count of $(( $(ls kernels/*.cu tests/kernels/*.cu | wc -l) * 2 )) compilations to PTX passed (sm_80, sm_90)"
exit $status
