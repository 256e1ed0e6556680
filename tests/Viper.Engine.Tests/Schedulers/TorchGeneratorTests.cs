using Viper.Engine.Tests.Support;
using Viper.Schedulers;

namespace Viper.Engine.Tests.Schedulers;

/// <summary>
/// torch.randn / torch.rand on the CPU (PyTorch 1.13, x86-64 AVX2 build) from ../shared/refs/randn: every float32 vector
/// bit for bit — the vectorised Box-Muller path (≥ 16 elements, incl. a ragged 17), the scalar double path with its
/// cached second sample (1, 2, 3, 15 elements) and the uniforms themselves.
/// </summary>
public class TorchGeneratorTests
{
    // The file also holds float64 draws (randn_f64_*), which the engine does not produce and whose dtype it does not load.
    public static TheoryData<string> Names => new()
    {
        "randn_seed0_1x4x64x64", "randn_seed0_4x4x8x8", "randn_seed42_1x4x64x64", "randn_seed42_4x4x8x8",
        "randn_seed12345_1x4x64x64", "randn_seed12345_4x4x8x8", "rand_seed0_n16", "rand_seed42_n16",
        "randn_seed0_n1", "randn_seed0_n2", "randn_seed0_n3", "randn_seed0_n15", "randn_seed0_n16", "randn_seed0_n17", "randn_seed0_n32",
        "randn_seed42_n1", "randn_seed42_n2", "randn_seed42_n3", "randn_seed42_n15", "randn_seed42_n16", "randn_seed42_n17", "randn_seed42_n32",
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void MatchesPyTorchBitForBit(string name)
    {
        using var refs = new RefTensors(RepoPaths.Shared("refs", "randn", "outputs.safetensors"));
        float[] expected = refs.Floats(name);
        ulong seed = ulong.Parse(name.Split('_')[1]["seed".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var generator = new TorchGenerator(seed);
        float[] actual = name.StartsWith("rand_", StringComparison.Ordinal)
            ? Enumerable.Range(0, expected.Length).Select(_ => generator.NextUniformFloat()).ToArray()
            : generator.Randn(expected.Length);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void ConsecutiveDrawsContinueOneStream()
    {
        // Whole blocks of 16 pair the same uniforms whether drawn at once or in two calls.
        float[] once = new TorchGenerator(5).Randn(32);
        var twice = new TorchGenerator(5);
        Assert.Equal(once, twice.Randn(16).Concat(twice.Randn(16)).ToArray());
    }
}
