#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test Viper.Engine: the .NET 10 SDK is expected
# on PATH; from Debian come OpenBLAS (the CPU backend's cblas_sgemm), g++ (the emulated CUDA device),
# clang-19 (the PTX check of kernels/*.cu), ICU (Unicode normalisation for the CLIP tokenizer), redis-server (the job
# queue of `viper worker` / `viper serve`; its tests start one on a loopback port) and chromium with its
# chromedriver (the studio's browser tests drive the page headless; where they cannot be installed those tests are
# skipped and say why).
# Pass --reference to also install Debian's PyTorch (python3-torch), used only to regenerate
# fixtures (tools/refs) and for the PyTorch side of the benchmarks.
set -euo pipefail

packages=()
ldconfig -p | grep -q 'libopenblas.so.0' || packages+=(libopenblas0-pthread)
command -v g++ >/dev/null || packages+=(g++)
command -v clang-19 >/dev/null || packages+=(clang-19)
ldconfig -p | grep -q 'libicuuc.so' || packages+=(libicu72)  # Unicode normalisation (CLIP tokenizer)
command -v redis-server >/dev/null || packages+=(redis-server)  # the workers' queue (tests start their own, never the system service)
browser=()
[[ -x /usr/bin/chromium ]] || browser+=(chromium)
[[ -x /usr/bin/chromedriver ]] || browser+=(chromium-driver)
if [[ "${1:-}" == "--reference" ]]; then
  /usr/bin/python3 -c 'import torch' 2>/dev/null || packages+=(python3-torch)
fi

if ((${#packages[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${packages[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if ((${#browser[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${browser[*]} (the studio's browser tests)" >&2
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${browser[@]}" >/dev/null; } \
    || echo "setup: could not install ${browser[*]}; the browser tests will be skipped" >&2
fi

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
