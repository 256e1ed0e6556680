using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Device;
using Viper.Cuda.Emulation;
using Viper.Cuda.Kernels;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Quantization;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// FP8 prefill on FP8 tensor cores (CudaBackend.Fp8Linear: activations quantized to E4M3 on the device, cuBLASLt's FP8
/// GEMM with scale pointers, per-channel scale and bias after), run on an emulated device standing in for an sm_89+ GPU,
/// whose GEMM keeps cuBLASLt's FP8 contract. Fixtures: tools/refs/make_op_fixtures.py::fp8_prefill (an independent numpy
/// E4M3 quantizer, the f64 linear of the two dequantized operands).
/// </summary>
public class Fp8PrefillTests
{
    private const string Generator = "fp8_prefill";

    public static TheoryData<string, string> GpuFixtures()
    {
        var data = new TheoryData<string, string>();
        foreach (string backend in TestBackends.GpuNames)
        {
            foreach (string fixture in new[] { "linear_fp8_w8a8_per_channel_bf16", "linear_fp8_w8a8_per_channel_f16", "linear_fp8_w8a8_per_tensor_f32" })
            {
                data.Add(backend, fixture);
            }
        }

        return data;
    }

    /// <summary>
    /// On the emulated sm_89+ device and on a real GPU (the device run): within the f32 (or twice-naive) tolerance of the
    /// fixture's linear of both quantized operands. A real GPU without FP8 tensor cores must instead give the CPU's
    /// weight-only result.
    /// </summary>
    [Theory]
    [MemberData(nameof(GpuFixtures))]
    public void MatchesTheLinearOfBothQuantizedOperands(string backend, string fixture)
    {
        using var cuda = backend == "cuda-emulated" ? new CudaBackend(new EmulatedDevice(fp8Gemm: true)) : (CudaBackend)TestBackends.Create(backend);
        if (cuda.Device.SupportsFp8Gemm)
        {
            FixtureRunner.Check(cuda, $"{backend} ({cuda.Device.Name})", fixture, Generator, Linear);
            return;
        }

        using var cpu = new CpuBackend();
        using var f = new OpFixture(fixture, Generator);
        float rtol = f.DTypeOf("x") == DType.F32 ? 1e-4f : 1f / 64; // f16/bf16 outputs: a couple of ulps apart between two f32-accumulating paths
        Tolerance.Close(Linear(cpu, f).ToFloats(), Linear(cuda, f).ToFloats(), 1e-4f, rtol, $"{fixture} on {cuda.Device.Name}, which has no FP8 tensor cores");
    }

    /// <summary>The activation codes and their scale, from the two quantizing kernels alone, bit for bit.</summary>
    [Theory]
    [InlineData("linear_fp8_w8a8_per_channel_bf16")]
    [InlineData("linear_fp8_w8a8_per_tensor_f32")]
    public void ActivationCodesEqualTheIndependentQuantizer(string fixture)
    {
        using var f = new OpFixture(fixture, Generator);
        using var device = new EmulatedDevice();
        byte[] x = f.Raw("x"), expected = f.Raw("codes");
        long count = expected.Length;
        (Dim3 grid, Dim3 block) = Launchers.Fp8Activations(count);
        using DeviceBuffer xs = device.Allocate(x.Length), partials = device.Allocate(grid.X * sizeof(float));
        using DeviceBuffer codes = device.Allocate(count), scale = device.Allocate(sizeof(float));
        device.CopyToDevice(xs, x);
        string suffix = KernelTable.Suffix(f.DTypeOf("x"));
        device.Launch($"fp8_amax_partial_{suffix}", grid, block, 0, new KernelArgs().Add(xs).Add(count).Add(partials));
        device.Launch($"fp8_quantize_{suffix}", grid, block, 0, new KernelArgs().Add(xs).Add(count).Add(partials).Add((int)grid.X).Add(codes).Add(scale));
        byte[] got = new byte[count], gotScale = new byte[sizeof(float)];
        device.CopyToHost(codes, got);
        device.CopyToHost(scale, gotScale);
        Assert.Equal(expected, got);
        Assert.Equal(f.Floats("activation_scale")[0], BitConverter.ToSingle(gotScale));
    }

    /// <summary>Without FP8 tensor cores, or with a K that cuBLASLt's FP8 GEMM cannot take, prefill reads the weight alone, as the CPU does.</summary>
    [Theory]
    [InlineData(false, 64)]
    [InlineData(true, 40)]
    public void OtherwisePrefillKeepsTheActivationsAsTheyAre(bool fp8Gemm, int k)
    {
        var rng = new Random(4);
        const int n = 32, rows = 12;
        float[] w = [.. Enumerable.Range(0, n * k).Select(_ => (rng.NextSingle() - 0.5f) * 0.4f)], x = [.. Enumerable.Range(0, rows * k).Select(_ => rng.NextSingle() - 0.5f)];
        QuantizedMatrix q = WeightQuantizer.Quantize(w, n, k, DType.F8E4M3);
        float[] Run(IBackend b) => b.Linear(b.FromFloats(x, new Shape(rows, k)), b.FromHost(q.Data, new Shape(n, k), DType.F8E4M3), null,
            b.FromFloats(q.Scale!, new Shape(n))).ToFloats();
        using var cpu = new CpuBackend();
        using var cuda = new CudaBackend(new EmulatedDevice(fp8Gemm: fp8Gemm));
        Tolerance.CloseF32(Run(cpu), Run(cuda), $"weight-only FP8 prefill (FP8 GEMMs {(fp8Gemm ? "on" : "off")}, K = {k})");
    }

    /// <summary>The emulated FP8 GEMM refuses what cuBLASLt's refuses (here a transposed activation operand), so a wrong call fails in CI too.</summary>
    [Fact]
    public void TheEmulatedFp8GemmKeepsCublasLtsContract()
    {
        using var device = new EmulatedDevice(fp8Gemm: true);
        using DeviceBuffer a = device.Allocate(16 * 16), b = device.Allocate(16 * 16), c = device.Allocate(16 * 16 * sizeof(float));
        var gemm = new GemmDescriptor(true, true, 16, 16, 16, 1f, a.Address, 16, 0, b.Address, 16, 0, 0f, c.Address, 16, 0, 1, DType.F8E4M3, DType.F32);
        Assert.ThrowsAny<Exception>(() => device.Gemm(gemm));
        device.Gemm(gemm with { TransposeA = false });
    }

    private static Tensor Linear(IBackend b, OpFixture f)
    {
        var shape = new Shape(f.Param("rows").GetInt32(), f.Param("cols").GetInt32());
        return b.Linear(f.Load(b, "x"), b.FromHost(f.Raw("weight"), shape, DType.F8E4M3), f.Load(b, "bias"), f.Load(b, "scale"));
    }
}
