#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and run Viper.Engine on the CPU:
# the .NET 10 SDK is expected on PATH; OpenBLAS (cblas_sgemm) comes from Debian.
# Pass --reference to also install Debian's PyTorch (python3-torch), used only to regenerate
# fixtures (tools/refs) and for the PyTorch side of the benchmarks.
set -euo pipefail

packages=()
ldconfig -p | grep -q 'libopenblas.so.0' || packages+=(libopenblas0-pthread)
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

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
