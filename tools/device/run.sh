#!/usr/bin/env bash
# The prepared GPU-machine run (issue 18): one command, under 10 minutes, every part reported and none stopping the rest.
# On the GPU machine (through the device tool, carrying artifacts/device/bundle.tar.xz made by tools/device/bundle.sh):
#   tools/device/run.sh                 results in $OUT (or artifacts/device/results)
# Here, without a GPU, to check the bundle and the script end to end with the GPU parts skipped:
#   tools/device/run.sh --rehearse
# Parts: env (GPU, driver, NVRTC/cuBLASLt found in the CUDA install or the Python nvidia-* packages, the bundle's runtime
# starting with no SDK); selfcheck (viper self-check --backend cuda); tests (the op and CUDA test classes, whose theories
# include the cuda-driver rows when a GPU is present); bench (benchmarks/run-gpu.sh's two sides: BenchmarkDotNet Gpu*
# and PyTorch bench_gpu_ops.py, the table written to gpu-results.md); sd15 (a random full-size SD1.5, 512², f16, 10 steps
# with the step graph: the stage times); idefics2 (idefics2-8b's shape, tiled random bf16 weights: the extractor's prefill
# and decode tokens/s, idefics2-decode.json; in a rehearsal the tiny size on the CPU); formats (the same with the linear
# weights in int8, q8_0, q4_0 and fp8: idefics2-decode-FORMAT.json, fp8 prefilling through cuBLASLt's FP8 GEMM on an
# sm_89+ GPU, whose fixture test runs in the tests part; in a rehearsal q4_0 at the tiny size); aesthetic (one SDXL
# aesthetic-gradients personalization of both text towers at full size, T = 10, f32: aesthetic-sdxl.json; in a rehearsal the
# tiny towers on the CPU); devices (`viper devices`: every GPU the run sees); multidevice (with two GPUs or more: a full-size
# random SD1.5 with its UNet on cuda:0 and its text encoder and VAE on cuda:1 must give the one-GPU image, pixel for pixel;
# in a rehearsal the tiny SDXL over two emulated devices). Each part's output is PART.log;
# summary.txt lists status and seconds per part.
set -uo pipefail
cd "$(dirname "$0")/../.."
rehearse=false
[[ "${1:-}" == "--rehearse" ]] && rehearse=true
out=${OUT:-$PWD/artifacts/device/results}
mkdir -p "$out"
: > "$out/summary.txt"
start=$SECONDS

if [[ -f artifacts/device/bundle.tar.xz ]]; then
  tar -xJf artifacts/device/bundle.tar.xz || echo "bundle: could not unpack artifacts/device/bundle.tar.xz" >> "$out/summary.txt"
fi
dotnet=$PWD/artifacts/device/dotnet/dotnet
xunit=$PWD/artifacts/device/xunit/xunit.console.dll
cli=$PWD/src/Viper.Cli/bin/Release/net10.0/viper.dll
bench=$PWD/benchmarks/Viper.Benchmarks/bin/Release/net10.0/Viper.Benchmarks.dll
tests=$PWD/tests/Viper.Engine.Tests/bin/Release/net10.0/Viper.Engine.Tests.dll
export DOTNET_ROOT=$PWD/artifacts/device/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 VIPER_EMU_LIBRARY=$PWD/artifacts/emu/libviper_emu.so
python=$(command -v python3 || echo /usr/bin/python3)

gpu=false
if ! $rehearse && command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
  gpu=true
  # NVRTC and cuBLASLt: the CUDA install's lib64, else the nvidia-* Python packages (cuda-nvrtc, cublas) beside PyTorch.
  dirs=$( { ls -d /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib 2>/dev/null
            "$python" -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null; } |
          xargs -r -I{} find {} \( -name 'libnvrtc.so*' -o -name 'libcublasLt.so*' \) 2>/dev/null | xargs -r -n1 dirname | sort -u | paste -sd:)
  export LD_LIBRARY_PATH=${dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

# part NAME SECONDS COMMAND…: runs it with a time limit, its output to NAME.log, its status and time to summary.txt.
part() {
  local name=$1 limit=$2 t0=$SECONDS status
  shift 2
  timeout "$limit" bash -c '"$@"' part "$@" > "$out/$name.log" 2>&1
  status=$?
  case $status in
    0) verdict=ok ;;
    124) verdict="timed out after ${limit} s" ;;
    *) verdict="failed (exit $status)" ;;
  esac
  echo "$name: $verdict, $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
}
skip() { echo "$1: skipped: $2" | tee -a "$out/summary.txt"; }

environment() {
  date -u; uname -a
  $gpu && nvidia-smi || echo "no GPU (rehearsal or none present)"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  $gpu && for lib in libcuda.so.1 libnvrtc.so.13 libnvrtc.so.12 libcublasLt.so.13 libcublasLt.so.12; do
    ldconfig -p | grep -q "$lib" && echo "$lib: system" || { for d in ${LD_LIBRARY_PATH//:/ }; do [[ -e $d/$lib ]] && echo "$lib: $d"; done; }
  done
  # The bundle runs on the runtime it carries: no SDK there, none needed (PATH without any other dotnet).
  env -i PATH=/usr/bin:/bin HOME="${HOME:-/tmp}" DOTNET_ROOT="$DOTNET_ROOT" "$dotnet" --list-runtimes || return 1
  echo "SDKs in the bundle: $(env -i PATH=/usr/bin:/bin DOTNET_ROOT="$DOTNET_ROOT" "$dotnet" --list-sdks | wc -l)"
  env -i PATH=/usr/bin:/bin HOME="${HOME:-/tmp}" DOTNET_ROOT="$DOTNET_ROOT" "$dotnet" "$cli" --help | head -5 || return 1
  DOTNET_ROLL_FORWARD=Major "$dotnet" "$xunit" "$tests" -method 'Viper.Engine.Tests.Cuda.DevicePoolTests.AFreedBlockIsLentAgainWithoutTouchingTheDevice' -nocolor || return 1
  "$dotnet" "$bench" --list flat | head -3
}

# placed BACKEND DEVICE1 MODEL-ARGS…: the image with text/vae (and a refiner) on DEVICE1 equals the one on device 0 alone.
placed() {
  local backend=$1 second=$2 work; shift 2; work=$(mktemp -d)
  "$dotnet" "$cli" generate "$@" --prompt "a lighthouse at dawn" --likes watercolor --dislikes neon --seed 3 --backend "$backend" --out "$work/alone.png" || return 1
  "$dotnet" "$cli" generate "$@" --prompt "a lighthouse at dawn" --likes watercolor --dislikes neon --seed 3 --backend "$backend" \
    --place "text=$second,vae=$second,refiner=$second" --verbose --out "$work/placed.png" || return 1
  "$python" tools/device/same_pixels.py "$work/alone.png" "$work/placed.png"
}

export out dotnet xunit cli bench tests python gpu rehearse
export -f environment placed
part env 120 environment
part devices 60 "$dotnet" "$cli" devices
gpus=0
$gpu && gpus=$(nvidia-smi -L | wc -l)
if $gpu; then
  part selfcheck 120 "$dotnet" "$cli" self-check --backend cuda
  # The op and CUDA classes on every backend (cpu, cuda-emulated, cuda-driver); the failures are in tests.log.
  part tests 210 env DOTNET_ROLL_FORWARD=Major "$dotnet" "$xunit" "$tests" -namespace Viper.Engine.Tests.Ops -namespace Viper.Engine.Tests.Cuda \
    -parallel all -maxthreads "$(nproc)" -nocolor
  bench_gpu() {
    local work; work=$(mktemp -d)
    "$python" benchmarks/torch/bench_gpu_ops.py --out "$work/torch.json" || echo "PyTorch side failed; the table shows Viper alone"
    "$dotnet" "$bench" --filter 'Viper.Benchmarks.Gpu*' --artifacts "$work/bdn" || return 1
    cp benchmarks/RESULTS.md "$work/RESULTS.md"
    [[ -f "$work/torch.json" ]] || echo '{"cases": {}}' > "$work/torch.json"
    "$python" benchmarks/report.py --gpu "$work/bdn/results" "$work/torch.json" "$work/RESULTS.md" &&
      sed -n '/gpu-ops:begin/,/gpu-ops:end/p' "$work/RESULTS.md" > "$out/gpu-results.md"
  }
  export -f bench_gpu
  part bench 200 bench_gpu
  sd15() {
    local folder; folder=$(mktemp -d)/sd15-random
    "$dotnet" "$cli" make-tiny sd15-random --out "$folder" || return 1
    "$dotnet" "$cli" generate --model "$folder" --prompt "a lighthouse at dawn" --backend cuda --dtype f16 --steps 10 --cuda-graphs \
      --width 512 --height 512 --seed 1 --verbose --out "$(dirname "$folder")/sd15.png"
  }
  export -f sd15
  part sd15 120 sd15
  # Issue 14's figure: the extractor's prefill (8 images) and 64 greedy tokens on idefics2-8b's shape, bf16, graph-replayed decode.
  part idefics2 120 "$dotnet" "$bench" idefics2-decode cuda 8b 64 "$out/idefics2-decode.json"
  # Issue 29's rows: the same workload with the linear weights in each low-bit format (quantized at load), 32 tokens each.
  formats() {
    for format in int8 q8_0 q4_0 fp8; do
      "$dotnet" "$bench" idefics2-decode cuda 8b 32 "$out/idefics2-decode-$format.json" "$format" || return 1
    done
  }
  export -f formats
  part formats 300 formats
  # Issue 31's GPU case: one SDXL aesthetic personalization (both towers at full size, T = 10, f32).
  part aesthetic 120 "$dotnet" "$bench" aesthetic-sdxl cuda full "$out/aesthetic-sdxl.json"
  if (( gpus > 1 )); then
    multidevice() {
      local folder; folder=$(mktemp -d)/sd15-random
      "$dotnet" "$cli" make-tiny sd15-random --out "$folder" || return 1
      placed cuda cuda:1 --model "$folder" --dtype f16 --steps 10 --width 512 --height 512
    }
    export -f multidevice
    part multidevice 180 multidevice
  else
    skip multidevice "$gpus GPU(s): placement across GPUs needs two"
  fi
else
  for name in selfcheck tests bench sd15; do skip "$name" "no GPU$($rehearse && echo ' (rehearsal)')"; done
  # The same command on the CPU at the tiny size: the bundle's benchmark program starts and writes its JSON.
  part idefics2 120 "$dotnet" "$bench" idefics2-decode cpu tiny 6 "$out/idefics2-decode.json"
  part formats 120 "$dotnet" "$bench" idefics2-decode cpu tiny 6 "$out/idefics2-decode-q4_0.json" q4_0
  part aesthetic 60 "$dotnet" "$bench" aesthetic-sdxl cpu tiny "$out/aesthetic-sdxl.json"
  multidevice() {
    local work; work=$(mktemp -d)
    "$dotnet" "$cli" make-tiny tiny-sdxl --out "$work/base" && "$dotnet" "$cli" make-tiny tiny-sdxl-refiner --out "$work/refiner" || return 1
    VIPER_EMU_DEVICES=2 placed cuda-emulated cuda-emulated:1 --model "$work/base" --refiner "$work/refiner" --steps 3
  }
  export -f multidevice
  part multidevice 120 multidevice
fi
echo "total: $((SECONDS - start)) s" | tee -a "$out/summary.txt"
