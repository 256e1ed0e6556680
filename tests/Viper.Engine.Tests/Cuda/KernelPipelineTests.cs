using Viper.Cuda.Device;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Cuda.Kernels;
using Viper.Engine.Tests.Support;

namespace Viper.Engine.Tests.Cuda;

/// <summary>The kernel table, embedded sources, compile cache, NVRTC error reporting and the driver device.</summary>
public sealed class KernelPipelineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("viper-kernel-cache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EveryTableEntryIsAKernelTheEmulatedDeviceBuilt()
    {
        using var device = new EmulatedDevice();
        foreach (KernelFamily family in KernelTable.Families)
        {
            Assert.All(family.Entries, entry => Assert.True(device.HasKernel(entry), $"{family.Source}: no kernel '{entry}'"));
        }
    }

    [Fact]
    public void EveryFamilySourceAndHeaderIsEmbeddedVerbatim()
    {
        foreach (string file in KernelTable.Families.Select(f => f.Source).Concat(KernelSources.Headers))
        {
            Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Root, "kernels", file)), KernelSources.Read(file));
        }

        Assert.Equal(Directory.GetFiles(Path.Combine(RepoPaths.Root, "kernels"), "*.cu").Select(Path.GetFileName).Order(),
            KernelTable.Families.Select(f => f.Source).Order());
    }

    [Fact]
    public void CacheKeysChangeWithSourceArchAndOptionsAndBuildOnce()
    {
        string key = KernelCache.Key("guidance.cu", "sm_90", ["-std=c++17"], ["src", "hdr"]);
        Assert.StartsWith("guidance-sm_90-", key);
        Assert.NotEqual(key, KernelCache.Key("guidance.cu", "sm_80", ["-std=c++17"], ["src", "hdr"]));
        Assert.NotEqual(key, KernelCache.Key("guidance.cu", "sm_90", ["-std=c++20"], ["src", "hdr"]));
        Assert.NotEqual(key, KernelCache.Key("guidance.cu", "sm_90", ["-std=c++17"], ["src", "hdr2"]));
        var cache = new KernelCache(_dir);
        int builds = 0;
        byte[] first = cache.GetOrAdd(key, () => { builds++; return [1, 2, 3]; });
        byte[] second = cache.GetOrAdd(key, () => { builds++; return [9]; });
        Assert.Equal([1, 2, 3], second);
        Assert.Equal(first, second);
        Assert.Equal(1, builds);
    }

    [Fact]
    public void NvrtcErrorsNameFileAndLine()
    {
        const string log = "guidance.cu(42): warning: unused\nguidance.cu(57): error: identifier \"epsx\" is undefined\n\n1 error detected";
        var e = new KernelCompileException("guidance.cu", "--gpu-architecture=sm_90", log);
        Assert.Equal(("guidance.cu", 57), (e.File, e.Line));
        Assert.Contains("first error at guidance.cu:57", e.Message);
        Assert.Contains("identifier \"epsx\" is undefined", e.Message);
    }

    [Fact]
    public void DriverAvailabilityIsExplainedOrTheDeviceOpens()
    {
        if (TestDevices.DriverUnavailable is { } why)
        {
            Assert.Matches("libcuda\\.so\\.1 not found: the NVIDIA driver|cuInit failed|the CUDA driver sees no GPU", why);
            return;
        }

        using var device = new DriverDevice(cache: new KernelCache(_dir));
        Assert.NotEmpty(device.Name);
    }

    [GpuFact]
    public void DriverDeviceDescribesItselfAndRunsAKernel()
    {
        using var device = new DriverDevice(cache: new KernelCache(_dir));
        Assert.True(device.MultiprocessorCount > 0);
        Assert.True(device.ComputeCapability.Major >= 8, $"{device.Name} is sm_{device.ComputeCapability.Major}{device.ComputeCapability.Minor}; the kernels target sm_80+");
        using DeviceBuffer y = device.Allocate(1024 * sizeof(float));
        float ms = device.Time(() => device.Launch("scale_f32", new Dim3(4), new Dim3(256), 0, new KernelArgs().Add(y).Add(2f).Add(y).Add(1024L)));
        Assert.True(ms >= 0);
        Assert.True(device.MaxActiveBlocksPerMultiprocessor("scale_f32", 256, 0) > 0);
    }
}
