using Viper.Engine.Tests.Support;
using Viper.Models.Clip;
using Viper.Models.Training;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Xunit.Abstractions;

namespace Viper.Engine.Tests.Aesthetic;

/// <summary>
/// ../shared/refs/aesthetic: transformers 4.42.4 + the released method (PersonalizedCLIPEmbedder.forward) on a tiny
/// CLIPModel, T = 3 Adam steps at lr 1e-3, on every backend.
/// </summary>
public class AestheticTrainerTests(ITestOutputHelper output)
{
    private static string Refs => RepoPaths.Shared("refs", "aesthetic");

    /// <summary>
    /// Losses within 1e-5 (observed ≤ 1.3e-7); every parameter's gradient at step 1 within 1e-5 + 1e-4·|ref| (observed
    /// ≤ 1.4e-7); the states before and after personalization within the f32 model tolerance 1e-5 + 1e-4·|ref| (observed
    /// 1.7e-6 after 3 steps). Parameters after step 1 within the bound <see cref="AdamFirstStepBound"/> derives.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void MatchesTheReleasedMethodStepByStep(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        using var refGrads = new RefTensors(Path.Combine(Refs, "grads_step0.safetensors"));
        using var refAfter = new RefTensors(Path.Combine(Refs, "params_after_step1.safetensors"));
        using ClipTextModel clip = ClipTextModel.Load(Refs, b, DType.F32);
        int[] ids = Ids(inputs, "tokens");
        float[] losses = outputs.Floats("losses");
        var before = clip.Parameters.Names.ToDictionary(n => n, n => clip.Parameters[n].ToBytes());

        using (var trainer = new AestheticTrainer(clip, ids, outputs.Floats("aesthetic_embedding"), 1e-3))
        {
            Tolerance.CloseF32(outputs.Floats("last_hidden_state_before"), trainer.LastHiddenState.ToFloats(), "last_hidden_state before");
            Assert.Equal(36, trainer.ParameterNames.Count()); // every text_model parameter, not text_projection
            Gradients grads = trainer.Gradients();
            var ours = new Dictionary<string, float[]>();
            foreach (string name in refGrads.Names)
            {
                ours[name] = Dense(trainer, grads, "text_model." + name, refGrads.Floats(name).Length);
                Tolerance.Close(refGrads.Floats(name), ours[name], 1e-5f, 1e-4f, $"d loss / d {name} on {backend}");
            }

            var losses0 = new List<float> { trainer.Loss };
            trainer.Step();
            losses0.Add(trainer.Loss);
            int flips = 0;
            double largest = 0;
            foreach (string name in refAfter.Names)
            {
                float[] expected = refAfter.Floats(name), actual = DenseParam(trainer, clip, "text_model." + name, before);
                float[] g = ours[name], gRef = refGrads.Floats(name);
                for (int i = 0; i < expected.Length; i++)
                {
                    double bound = AdamFirstStepBound(g[i], gRef[i], expected[i], 1e-3);
                    Assert.True(Math.Abs(actual[i] - expected[i]) <= bound, $"{name}[{i}] after step 1: {actual[i]} vs {expected[i]} (bound {bound:g3}; g {g[i]:g3} vs {gRef[i]:g3})");
                    if (Math.Sign(g[i]) != Math.Sign(gRef[i]))
                    {
                        Assert.True(Math.Abs(gRef[i]) < 1e-6, $"{name}[{i}]: gradients {g[i]:g3} and {gRef[i]:g3} differ in sign");
                        flips++;
                    }

                    largest = Math.Max(largest, Math.Abs(actual[i] - expected[i]));
                }
            }

            output.WriteLine($"{backend}: after step 1, largest parameter difference {largest:g3}; {flips} gradients of opposite sign (all |g| < 1e-6)");
            trainer.Step();
            losses0.Add(trainer.Loss);
            trainer.Step();
            losses0.Add(trainer.Loss);
            Tolerance.Close(losses, losses0.ToArray(), 1e-5f, 0, "losses");
            Assert.Equal(3, trainer.StepsTaken);
            Tolerance.CloseF32(outputs.Floats("last_hidden_state_after"), trainer.LastHiddenState.ToFloats(), "last_hidden_state after 3 steps");
        }

        // Disposal put every parameter back bit for bit; the empty prompt (never personalized) encodes as before.
        foreach (string name in clip.Parameters.Names)
        {
            Assert.Equal(before[name], clip.Parameters[name].ToBytes());
        }

        using ClipTextOutput uncond = clip.Encode([Ids(inputs, "uc_tokens")]);
        Tolerance.CloseF32(outputs.Floats("uncond_last_hidden_state"), uncond.LastHiddenState.ToFloats(), "unconditional state");
    }

    /// <summary>
    /// How far our parameter after Adam's first step may be from PyTorch's, given both gradients. Step 1 is
    /// m̂ = g, v̂ = g², so p₁ = p₀ − lr·u(g) with u(g) = g / (|g| + eps), eps = 1e-8: nearly lr·sign(g). Two gradients that
    /// differ by f32 noise give |lr·(u(g) − u(g′))| — tiny where |g| ≫ eps, up to 2·lr where a near-zero gradient's sign
    /// differs. Plus the rounding of the update and of p₁ itself: 2 ulp of p₁ and 1e-6 relative of the step.
    /// </summary>
    private static double AdamFirstStepBound(float g, float gRef, float pRef, double lr)
    {
        static double U(double v) => v / (Math.Abs(v) + 1e-8);
        double ulp = MathF.BitIncrement(Math.Abs(pRef)) - Math.Abs(pRef);
        return (lr * Math.Abs(U(g) - U(gRef))) + (2 * ulp) + (1e-6 * lr);
    }

    /// <summary>
    /// f16 gradients with dynamic loss scaling (×2¹⁵): unscaled, they follow the f32 gradients within 1 % of the largest
    /// gradient (the text model's gradients are ~10⁻³…10⁻¹ here; k_proj's bias gradients, exactly 0 in exact arithmetic,
    /// are rounding noise in both), none overflows, and the step is not skipped.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void F16GradientsAreLossScaledAndFollowTheF32Ones(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        using ClipTextModel clip32 = ClipTextModel.Load(Refs, b, DType.F32);
        using ClipTextModel clip16 = ClipTextModel.Load(Refs, b, DType.F16);
        using var reference = new AestheticTrainer(clip32, Ids(inputs, "tokens"), outputs.Floats("aesthetic_embedding"), 1e-3);
        using var half = new AestheticTrainer(clip16, Ids(inputs, "tokens"), outputs.Floats("aesthetic_embedding"), 1e-3);
        Assert.Equal((1f, 32768f), (reference.LossScale, half.LossScale));
        var g32 = reference.ParameterNames.ToDictionary(n => n, n => reference.Gradients()[n].ToFloats());
        var g16 = half.ParameterNames.ToDictionary(n => n, n => half.Gradients()[n].ToFloats().Select(v => v / half.LossScale).ToArray());
        float largest = g32.Values.Max(g => g.Max(MathF.Abs));
        double worst = g32.Max(kv => kv.Value.Zip(g16[kv.Key], (x, y) => Math.Abs((double)x - y)).Max()) / largest;
        output.WriteLine($"{backend}: largest gradient {largest:g3}; f16 (scaled) differs from f32 by at most {worst:g3} of it");
        Assert.All(g16.Values, g => Assert.All(g, v => Assert.True(float.IsFinite(v))));
        Assert.True(worst < 0.01, $"scaled f16 gradients differ from f32 by {worst:g3} of the largest");
        half.Step();
        Assert.Equal(0, half.SkippedSteps);
    }

    /// <summary>
    /// The model in f16/bf16 with f32 master weights: the losses follow the f32 reference's within 0.02 (a cosine of
    /// 16 values computed through a 2-layer model in half precision: a few ulp of 2⁻⁸/2⁻¹¹ per layer), fall at every
    /// step, and the half-precision weights are put back bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestBackends.With), "F16, BF16", MemberType = typeof(TestBackends))]
    public void HalfPrecisionModelsTrainWithF32MasterWeights(string backend, string dtype)
    {
        using IBackend b = TestBackends.Create(backend);
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        using ClipTextModel clip = ClipTextModel.Load(Refs, b, Enum.Parse<DType>(dtype));
        var before = clip.Parameters.Names.ToDictionary(n => n, n => clip.Parameters[n].ToBytes());
        float[] expected = outputs.Floats("losses");
        using (var trainer = new AestheticTrainer(clip, Ids(inputs, "tokens"), outputs.Floats("aesthetic_embedding"), 1e-3))
        {
            var losses = new List<float> { trainer.Loss };
            for (int step = 0; step < 3; step++)
            {
                trainer.Step();
                losses.Add(trainer.Loss);
                Assert.True(losses[^1] < losses[^2], $"{dtype} on {backend}: losses {string.Join(", ", losses)}");
            }

            Tolerance.Close(expected, losses.ToArray(), 0.02f, 0, $"{dtype} losses on {backend}");
            output.WriteLine($"{dtype} on {backend}: largest loss difference {Tolerance.MaxAbsError(expected, losses.ToArray()):g3}");
            Assert.Equal(Enum.Parse<DType>(dtype), trainer.LastHiddenState.DType);
        }

        foreach (string name in clip.Parameters.Names)
        {
            Assert.Equal(before[name], clip.Parameters[name].ToBytes());
        }
    }

    [Fact]
    public void RefusesWhatDoesNotFitBeforeTouchingTheModel()
    {
        using var b = new Viper.Backends.Cpu.CpuBackend(1);
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        using ClipTextModel clip = ClipTextModel.Load(Refs, b, DType.F32);
        int[] ids = Ids(inputs, "tokens");
        Assert.Contains("projects to 16", Assert.Throws<ArgumentException>(() => new AestheticTrainer(clip, ids, new float[768], 1e-4)).Message);
        Assert.Contains("not all zeros", Assert.Throws<ArgumentException>(() => new AestheticTrainer(clip, ids, new float[16], 1e-4)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AestheticTrainer(clip, ids, outputs.Floats("aesthetic_embedding"), 0));
        Assert.Empty(clip.Parameters.Changed); // refused before anything was touched
    }

    /// <summary>A gradient as the reference stores it: the token table's dense (vocab, C), our rows scattered into zeros.</summary>
    private static float[] Dense(AestheticTrainer trainer, Gradients grads, string name, int length)
    {
        float[] g = grads[name].ToFloats();
        return g.Length == length ? g : WithRows(new float[length], g, trainer.TokenIds);
    }

    /// <summary>A parameter as the reference stores it: the token table is the original with the trained rows written in.</summary>
    private static float[] DenseParam(AestheticTrainer trainer, ClipTextModel clip, string name, Dictionary<string, byte[]> before) =>
        name != clip.TextModel.Embeddings.TokenWeightName
            ? clip.Parameters[name].ToFloats()
            : WithRows(HostTensors.DecodeFloats(before[name], DType.F32), trainer.TokenRowValues.ToFloats(), trainer.TokenIds);

    /// <summary>Writes row r of <paramref name="rows"/> into row ids[r] of <paramref name="table"/>; returns the table.</summary>
    private static float[] WithRows(float[] table, float[] rows, IReadOnlyList<int> ids)
    {
        int c = rows.Length / ids.Count;
        for (int r = 0; r < ids.Count; r++)
        {
            Array.Copy(rows, r * c, table, ids[r] * c, c);
        }

        return table;
    }

    private static int[] Ids(RefTensors refs, string name) => refs.Longs(name).Select(v => (int)v).ToArray();
}
