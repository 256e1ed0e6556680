using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::embeddings (diffusers get_timestep_embedding, HF rotate_half rotary).</summary>
public class EmbeddingTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With), "embedding_i64_f32, embedding_i32_f32", MemberType = typeof(TestBackends))]
    public void Embedding(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "embeddings", (b, f) => b.Embedding(f.Load(b, "table"), f.Load(b, "ids")), atol: 0, rtol: 0);

    // The arguments reach 999 rad; one f32 ulp of a frequency (PyTorch's vectorised exp vs ours) moves such an
    // argument by ~6e-5, hence atol 2e-4 here and nowhere else.
    [Theory]
    [MemberData(nameof(TestBackends.With), "timestep_embedding_sd_f32, timestep_embedding_default_f32, timestep_embedding_odd_f32", MemberType = typeof(TestBackends))]
    public void TimestepEmbedding(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "embeddings", (b, f) =>
            b.Diffusion().TimestepEmbedding(f.Load(b, "timesteps"), new TimestepEmbeddingOptions(
                f.Param("dim").GetInt32(), f.Param("flip_sin_to_cos").GetBoolean(), f.Param("downscale_freq_shift").GetSingle())),
            atol: 2e-4f, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.With), "rotary_f32, rotary_rows_f32", MemberType = typeof(TestBackends))]
    public void Rotary(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "embeddings", (b, f) =>
            b.Decoding().Rotary(f.Load(b, "x"), f.Load(b, "positions"), f.Param("head_dim").GetInt32(), f.Param("theta").GetSingle()));

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void EmbeddingRejectsOutOfRangeIds(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        // On a device the kernel records the id and the next download raises it.
        var e = Assert.Throws<TensorValueException>(() =>
            b.Embedding(b.Allocate(new Shape(10, 4), DType.F32), b.FromInts([3, 10], new Shape(2))).ToFloats());
        Assert.Contains("id 10", e.Message);
    }
}
