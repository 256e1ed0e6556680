using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// One test body, several backends (candle's test_device! pattern): op tests are theories over
/// <see cref="Names"/>, and each backend joins the list as it lands.
/// </summary>
public static class TestBackends
{
    public static TheoryData<string> Names => new() { "cpu" };

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

    public static IBackend Create(string name) => name switch
    {
        "cpu" => new CpuBackend(),
        _ => throw new ArgumentException($"unknown backend '{name}'"),
    };
}
