using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cpu;

/// <summary>
/// f16/bf16 weights stay in their dtype on the CPU backend: a linear layer widens them one panel of rows at a time
/// (8 MiB of f32 scratch), never the whole matrix, and the panels give what one GEMM over the widened matrix gives.
/// </summary>
public class LowPrecisionWeightTests
{
    // K = 4096 makes a panel 512 rows: 1100 outputs are three panels, the last one partial. M = 9 rows is a prefill (up to
    // 8 rows stream the weight through StreamingGemv instead; QuantizedLinearTests bound that path).
    private const int M = 9, N = 1100, K = 4096;

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void PanelledLinearEqualsOneGemmOverTheWidenedWeight(DType dtype)
    {
        using var cpu = new CpuBackend(threads: 2);
        (Tensor x, Tensor w, Tensor b) = Operands(cpu, dtype);
        using (x)
        using (w)
        using (b)
        using (Tensor panelled = cpu.Linear(x, w, b))
        using (Tensor x32 = cpu.Cast(x, DType.F32))
        using (Tensor w32 = cpu.Cast(w, DType.F32))
        using (Tensor b32 = cpu.Cast(b, DType.F32))
        using (Tensor whole = cpu.Linear(x32, w32, b32))
        using (Tensor rounded = cpu.Cast(whole, dtype))
        {
            float[] got = panelled.ToFloats(), want = rounded.ToFloats(), exact = whole.ToFloats();
            float ulp = dtype == DType.BF16 ? 1f / 128 : 1f / 1024;
            for (int i = 0; i < got.Length; i++)
            {
                // Same dot products; at most a rounding boundary apart when the two GEMMs sum in another order.
                Assert.True(got[i] == want[i] || MathF.Abs(got[i] - exact[i]) <= ulp * MathF.Abs(exact[i]),
                    $"output {i}: panelled {got[i]}, one GEMM {want[i]} ({exact[i]} before rounding)");
            }
        }
    }

    [Fact]
    public void ABf16LinearNeverHoldsAWidenedCopyOfItsWeight()
    {
        using var cpu = new CpuBackend(threads: 2);
        (Tensor x, Tensor w, Tensor b) = Operands(cpu, DType.BF16);
        using (x)
        using (w)
        using (b)
        {
            cpu.Linear(x, w, b).Dispose();
            // Every scratch buffer the op used is back in the pool: the f32 weight would be N·K·4 = 17.2 MiB by itself.
            long widenedWeight = (long)N * K * 4;
            Assert.True(cpu.CachedBytes < widenedWeight / 2, $"the linear left {cpu.CachedBytes} bytes of scratch, a widened weight is {widenedWeight}");
        }
    }

    private static (Tensor X, Tensor W, Tensor B) Operands(CpuBackend cpu, DType dtype)
    {
        var rng = new Random(5);
        float[] xs = [.. Enumerable.Range(0, M * K).Select(_ => rng.NextSingle() - 0.5f)];
        float[] ws = [.. Enumerable.Range(0, N * K).Select(_ => (rng.NextSingle() - 0.5f) / 64f)];
        float[] bias = [.. Enumerable.Range(0, N).Select(_ => rng.NextSingle())];
        return (cpu.FromFloats(xs, new Shape(M, K), dtype), cpu.FromFloats(ws, new Shape(N, K), dtype), cpu.FromFloats(bias, new Shape(N), dtype));
    }
}
