using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Emulation;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// One test body, several backends (candle's test_device! pattern): op tests are theories over
/// <see cref="Names"/>, and each backend joins the list as it lands.
/// </summary>
public static class TestBackends
{
    /// <summary>The CPU reference backend and the CUDA backend on the emulated device (and on the GPU when present).</summary>
    public static TheoryData<string> Names => [.. GpuNameList.Prepend("cpu")];

    /// <summary>The backends other than the CPU reference: what is compared against it.</summary>
    public static TheoryData<string> GpuNames => [.. GpuNameList];

    private static IEnumerable<string> GpuNameList => TestDevices.DriverUnavailable is null ? ["cuda-emulated", "cuda-driver"] : ["cuda-emulated"];

    /// <summary>Every backend crossed with each of the comma-separated fixture names.</summary>
    public static TheoryData<string, string> With(string fixtures)
    {
        var data = new TheoryData<string, string>();
        foreach (string backend in Names)
        {
            foreach (string fixture in fixtures.Split(','))
            {
                data.Add(backend, fixture.Trim());
            }
        }

        return data;
    }

    /// <summary>Every backend, each with a flag false and true (a mode a test runs both ways).</summary>
    public static TheoryData<string, bool> WithFlag()
    {
        var data = new TheoryData<string, bool>();
        foreach (string backend in Names)
        {
            data.Add(backend, false);
            data.Add(backend, true);
        }

        return data;
    }

    public static IBackend Create(string name) => name switch
    {
        "cpu" => new CpuBackend(),
        "cuda-emulated" => new CudaBackend(TestDevices.Create("emulated")),
        "cuda-driver" => new CudaBackend(TestDevices.Create("driver")),
        _ => throw new ArgumentException($"unknown backend '{name}'"),
    };
}
