#!/usr/bin/env bash
# Packs what the GPU machine needs and lacks (it has no .NET SDK) into artifacts/device/bundle.tar.xz, to be named in the
# device tool's `carry` and unpacked there by tools/device/run.sh: the .NET runtime of this machine (the `dotnet` host and
# every shared framework the builds name in their runtimeconfig.json — Microsoft.NETCore.App, and
# Microsoft.AspNetCore.App since the CLI hosts the studio — no SDK), the Release builds of the CLI, the benchmarks and the
# test suite (at their repository paths, so the tests find the repository as here), xunit's console runner (runs the
# tests with the runtime alone) and the emulated device. Usage: tools/device/bundle.sh   (then: tools/device/run.sh --rehearse)
set -euo pipefail
cd "$(dirname "$0")/../.."
./tools/emu/build.sh
dotnet build Viper.Engine.sln -c Release -nologo -v quiet
dotnet build benchmarks/Viper.Benchmarks -c Release -nologo -v quiet

builds=(src/Viper.Cli/bin/Release/net10.0 benchmarks/Viper.Benchmarks/bin/Release/net10.0 tests/Viper.Engine.Tests/bin/Release/net10.0)
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
version=$(basename "$(ls -d "$root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)")
configs=()
for build in "${builds[@]}"; do configs+=("$build"/*.runtimeconfig.json); done
mapfile -t frameworks < <(python3 -c '
import json, sys
names = set()
for path in sys.argv[1:]:
    options = json.load(open(path))["runtimeOptions"]
    names.update(f["name"] for f in options.get("frameworks", []) + ([options["framework"]] if "framework" in options else []))
print("\n".join(sorted(names)))' "${configs[@]}")
xunit=$(find "${NUGET_PACKAGES:-$HOME/.nuget/packages}/xunit.runner.console" -path '*/tools/netcoreapp2.0' -type d 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$xunit" ]]; then
  work=$(mktemp -d)
  printf '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup><ItemGroup><PackageReference Include="xunit.runner.console" Version="2.4.1" /></ItemGroup></Project>' > "$work/r.csproj"
  dotnet restore "$work/r.csproj" -v quiet
  rm -rf "$work"
  xunit=$(find "${NUGET_PACKAGES:-$HOME/.nuget/packages}/xunit.runner.console" -path '*/tools/netcoreapp2.0' -type d | sort -V | tail -1)
fi

stage=artifacts/device/stage
rm -rf "$stage" artifacts/device/bundle.tar.xz
mkdir -p "$stage/artifacts/device/dotnet" "$stage/artifacts/device/xunit"
cp "$root/dotnet" "$stage/artifacts/device/dotnet/"
cp -r "$root/host" "$stage/artifacts/device/dotnet/"
for framework in "${frameworks[@]}"; do
  [[ -d "$root/shared/$framework/$version" ]] || { echo "bundle: $root/shared/$framework/$version is missing" >&2; exit 1; }
  mkdir -p "$stage/artifacts/device/dotnet/shared/$framework"
  cp -r "$root/shared/$framework/$version" "$stage/artifacts/device/dotnet/shared/$framework/"
done
cp -r "$xunit"/. "$stage/artifacts/device/xunit/"
# The console runner's process must load every framework the test assembly runs on (its runtimeconfig names 2.0 alone).
python3 -c '
import json, sys
tests = json.load(open(sys.argv[1]))["runtimeOptions"]
config = {"runtimeOptions": {"tfm": tests["tfm"], "rollForward": "Major", "frameworks": tests["frameworks"]}}
json.dump(config, open(sys.argv[2], "w"), indent=2)' tests/Viper.Engine.Tests/bin/Release/net10.0/Viper.Engine.Tests.runtimeconfig.json \
  "$stage/artifacts/device/xunit/xunit.console.runtimeconfig.json"
for build in "${builds[@]}" artifacts/emu; do
  mkdir -p "$stage/$(dirname "$build")"
  cp -r "$build" "$stage/$build"
done
# The device tool carries at most 64 MiB with the working tree (~11 MiB). Dead weight there: native libraries for other
# systems (SkiaSharp's, BenchmarkDotNet's, the tokenizers'), the browser tests' selenium-manager, llama.cpp, and the reference
# assemblies the studio's in-process test host compiles against (tests/…/refs; the device runs the op and CUDA tests).
# A file the three builds share is stored once (hard links, which tar keeps).
find "$stage" -type d -name runtimes | while read -r runtimes; do
  find "$runtimes" -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 ! -name linux ! -name unix -exec rm -rf {} +
done
find "$stage" -name 'selenium-manager*' -type f -delete
# llama.cpp's CPU builds (LLamaSharp.Backend.Cpu, one per instruction set) serve the CPU decode comparison only.
rm -rf "$stage"/benchmarks/Viper.Benchmarks/bin/Release/net10.0/runtimes/linux-x64/native/{noavx,avx,avx2,avx512}
rm -rf "$stage/tests/Viper.Engine.Tests/bin/Release/net10.0/refs"
find "$stage" -type f -size +8k -exec md5sum {} + | sort | awk '$1 == last { print first "\t" $2; next } { last = $1; first = $2 }' |
  while IFS=$'\t' read -r keep duplicate; do ln -f "$keep" "$duplicate"; done
XZ_OPT=-9 tar -C "$stage" -cJf artifacts/device/bundle.tar.xz .
rm -rf "$stage"
echo "bundle: artifacts/device/bundle.tar.xz, $(du -h artifacts/device/bundle.tar.xz | cut -f1) (${frameworks[*]} $version, xunit console from $xunit)"
