#!/usr/bin/env bash
# Packs what the GPU machine needs and lacks (it has no .NET SDK) into artifacts/device/bundle.tar.xz, to be named in the
# device tool's `carry` and unpacked there by tools/device/run.sh: the .NET runtime of this machine (the `dotnet` host and
# Microsoft.NETCore.App, no SDK), the Release builds of the CLI, the benchmarks and the test suite (at their repository
# paths, so the tests find the repository as here), xunit's console runner (runs the tests with the runtime alone) and the
# emulated device. Usage: tools/device/bundle.sh   (then check it: tools/device/run.sh --rehearse)
set -euo pipefail
cd "$(dirname "$0")/../.."
./tools/emu/build.sh
dotnet build Viper.Engine.sln -c Release -nologo -v quiet
dotnet build benchmarks/Viper.Benchmarks -c Release -nologo -v quiet

root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls -d "$root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
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
mkdir -p "$stage/artifacts/device/dotnet/shared/Microsoft.NETCore.App" "$stage/artifacts/device/xunit"
cp "$root/dotnet" "$stage/artifacts/device/dotnet/"
cp -r "$root/host" "$stage/artifacts/device/dotnet/"
cp -r "$runtime" "$stage/artifacts/device/dotnet/shared/Microsoft.NETCore.App/"
cp -r "$xunit"/. "$stage/artifacts/device/xunit/"
for build in src/Viper.Cli/bin/Release/net10.0 benchmarks/Viper.Benchmarks/bin/Release/net10.0 tests/Viper.Engine.Tests/bin/Release/net10.0 artifacts/emu; do
  mkdir -p "$stage/$(dirname "$build")"
  cp -r "$build" "$stage/$build"
done
# Native libraries for other systems (BenchmarkDotNet's, the tokenizers') are dead weight on linux-x64.
find "$stage" -path '*/runtimes/*' -type d \( -name 'win*' -o -name 'osx*' -o -name 'linux-arm*' -o -name 'linux-musl*' -o -name 'browser*' -o -name 'android*' -o -name 'ios*' -o -name 'maccatalyst*' -o -name 'freebsd*' -o -name 'illumos*' -o -name 'solaris*' -o -name 'tvos*' \) -prune -exec rm -rf {} +
tar -C "$stage" -cJf artifacts/device/bundle.tar.xz .
rm -rf "$stage"
echo "bundle: artifacts/device/bundle.tar.xz, $(du -h artifacts/device/bundle.tar.xz | cut -f1) (runtime $(basename "$runtime"), xunit console from $xunit)"
