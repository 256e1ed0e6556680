#!/usr/bin/env bash
# Builds the emulated CUDA device from source: the runtime (kernels/emu) plus every kernels/*.cu compiled
# for the host by g++ (C++20), into artifacts/emu/libviper_emu.so, and the test-only kernels of
# tests/kernels into libviper_emu_testkernels.so. Run by tools/test.sh every time.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=artifacts/emu
mkdir -p "$out/obj"
flags=(-std=c++20 -O2 -g -fPIC -pthread -Wall -Wextra -Werror -Ikernels)
objects=()
pids=()
for src in kernels/emu/*.cpp kernels/*.cu; do
  obj="$out/obj/$(basename "$src").o"
  g++ "${flags[@]}" -x c++ -c "$src" -o "$obj" &
  pids+=($!)
  objects+=("$obj")
done
g++ -c kernels/emu/switch.S -o "$out/obj/switch.o"
for pid in "${pids[@]}"; do
  wait "$pid" || { echo "emu: a compilation failed" >&2; exit 1; }
done
g++ -shared -pthread -Wl,-soname,libviper_emu.so -o "$out/libviper_emu.so.tmp" "${objects[@]}" "$out/obj/switch.o"
mv "$out/libviper_emu.so.tmp" "$out/libviper_emu.so"

# Test-only kernels (planted bugs, synchronisation probes) register into the same device when loaded.
g++ "${flags[@]}" -x c++ -shared -o "$out/libviper_emu_testkernels.so" tests/kernels/*.cu \
  -L"$out" -lviper_emu -Wl,-rpath,'$ORIGIN'
echo "emu: built $out/libviper_emu.so from $(ls kernels/*.cu | wc -l) kernel files" >&2
