using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::attention (float64 softmax(QKᵀ/√d + mask)V) and ::kv_cache_write_rows.</summary>
public class AttentionTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With),
        "attention_cross_f32, attention_causal_f32, attention_keypad_f32, attention_gqa_causal_f32, " +
        "attention_decode_gqa_f32, attention_chunk_prefill_f32, attention_f16, attention_bf16, " +
        "attention_keymask_f32, attention_bias_causal_f32, attention_decode_mask_f32, attention_mask_f16, attention_mask_bf16",
        MemberType = typeof(TestBackends))]
    public void Attention(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "attention", (b, f) =>
        {
            var options = new AttentionOptions(f.Param("query_heads").GetInt32(), f.Param("kv_heads").GetInt32(), f.Param("head_dim").GetInt32())
            {
                Causal = f.Param("causal").GetBoolean(),
                KeyLengths = f.LoadOptional(b, "key_lengths"),
                KeyMask = f.LoadOptional(b, "key_mask"),
                Bias = f.LoadOptional(b, "bias"),
            };
            return b.Attention(f.Load(b, "q"), f.Load(b, "k"), f.Load(b, "v"), options);
        });

    [Theory]
    [MemberData(nameof(TestBackends.With), "kv_cache_write_rows_f32", MemberType = typeof(TestBackends))]
    public void KvCacheWritePerRow(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "kv_cache_append", (b, f) =>
        {
            Tensor cache = f.Load(b, "cache");
            b.Decoding().KvCacheWrite(cache, f.Load(b, "values"), f.Load(b, "positions"));
            return cache;
        }, atol: 0, rtol: 0);

    /// <summary>A batch row whose keys are all masked outputs zeros (PyTorch would give NaN), on the row, split-KV and flash kernels.</summary>
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void AFullyMaskedRowOutputsZeros(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        foreach ((int tq, int tk, DType dtype) in new[] { (3, 10, DType.F32), (1, 600, DType.F32), (3, 10, DType.F16) })
        {
            var rng = new Random(tk);
            Tensor Random(int t) => b.FromFloats(Enumerable.Range(0, 2 * t * 16).Select(_ => rng.NextSingle() - 0.5f).ToArray(), new Shape(2, t, 16), dtype);
            using Tensor q = Random(tq), k = Random(tk), v = Random(tk);
            using Tensor mask = b.FromInts([.. Enumerable.Repeat(1, tk), .. Enumerable.Repeat(0, tk)], new Shape(2, tk));
            using Tensor y = b.Attention(q, k, v, new AttentionOptions(2, 2, 8) { KeyMask = mask });
            float[] values = y.ToFloats();
            Assert.All(values[(tq * 16)..], v => Assert.Equal(0f, v));
            Assert.Contains(values[..(tq * 16)], v => v != 0f);
            Assert.All(values, v => Assert.True(float.IsFinite(v)));
        }
    }

    /// <summary>A position that would overflow is raised (on a device, at the next download) and its row is not written.</summary>
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void KvCacheWriteRaisesAnOverflowingPosition(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using Tensor cache = b.Allocate(new Shape(2, 6, 4), DType.F32);
        using Tensor values = b.FromFloats(Enumerable.Repeat(1f, 2 * 2 * 4).ToArray(), new Shape(2, 2, 4));
        using Tensor positions = b.FromInts([1, 5], new Shape(2));
        var e = Assert.Throws<TensorValueException>(() =>
        {
            b.Decoding().KvCacheWrite(cache, values, positions);
            cache.ToFloats();
        });
        Assert.Equal("kv_cache_write: position 5 outside [0, 4] (the cache would overflow)", e.Message);
        Assert.All(cache.ToFloats().Skip(6 * 4), v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void LongSequenceMatchesScalarReference(string backend)
    {
        // Longer than one score block would be for small budgets, with GQA, causal and padded keys together.
        using IBackend b = TestBackends.Create(backend);
        var rng = new Random(3);
        const int batch = 2, tq = 150, tk = 170, hq = 4, hkv = 2, d = 24;
        float[] q = GemmTests.Random(rng, batch * tq * hq * d), k = GemmTests.Random(rng, batch * tk * hkv * d), v = GemmTests.Random(rng, batch * tk * hkv * d);
        int[] lengths = [170, 161];
        var options = new AttentionOptions(hq, hkv, d) { Causal = true, KeyLengths = b.FromInts(lengths, new Shape(batch)) };
        float[] got = b.Attention(b.FromFloats(q, new Shape(batch, tq, hq * d)), b.FromFloats(k, new Shape(batch, tk, hkv * d)),
            b.FromFloats(v, new Shape(batch, tk, hkv * d)), options).ToFloats();
        float[] expected = ScalarReference.Attention(q, k, v, batch, tq, tk, hq, hkv, d, true, lengths, options.EffectiveScale);
        Tolerance.CloseF32(expected, got, "attention vs scalar reference");
    }

    /// <summary>
    /// Decode rows (≤ 8 queries read the cache in place) with groups of 6 query heads per key-value head (one group of four
    /// read together, two alone), a head size that is not a multiple of 8, and visible key counts that are not multiples
    /// of 4: causal with padded keys, and with masked keys inside the visible range (zero probabilities, which the grouped
    /// loops step around). A masked key must act as if it were absent, so the reference runs on the keys left.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void DecodeRowsMatchScalarReference(string backend)
    {
        // Head dims 36 = 32 + 4 and 44 = 32 + 8 + 4: the CPU's decode takes 32 output columns, then 8, then single ones.
        foreach (int d in new[] { 36, 44 })
        {
            CheckDecodeRows(backend, d);
        }
    }

    private static void CheckDecodeRows(string backend, int d)
    {
        using IBackend b = TestBackends.Create(backend);
        var rng = new Random(11);
        const int batch = 2, tq = 3, tk = 37, hq = 12, hkv = 2;
        float[] q = GemmTests.Random(rng, batch * tq * hq * d), k = GemmTests.Random(rng, batch * tk * hkv * d), v = GemmTests.Random(rng, batch * tk * hkv * d);
        Tensor Q() => b.FromFloats(q, new Shape(batch, tq, hq * d));
        Tensor Kv(float[] values, int keys) => b.FromFloats(values, new Shape(batch, keys, hkv * d));

        int[] lengths = [37, 30];
        var causal = new AttentionOptions(hq, hkv, d) { Causal = true, KeyLengths = b.FromInts(lengths, new Shape(batch)) };
        float[] got = b.Attention(Q(), Kv(k, tk), Kv(v, tk), causal).ToFloats();
        Tolerance.CloseF32(ScalarReference.Attention(q, k, v, batch, tq, tk, hq, hkv, d, true, lengths, causal.EffectiveScale), got, "causal decode rows");

        int[] kept = [.. Enumerable.Range(0, tk).Where(j => j % 5 != 2)];
        int[] mask = [.. Enumerable.Range(0, batch * tk).Select(i => kept.Contains(i % tk) ? 1 : 0)];
        var masked = new AttentionOptions(hq, hkv, d) { KeyMask = b.FromInts(mask, new Shape(batch, tk)) };
        got = b.Attention(Q(), Kv(k, tk), Kv(v, tk), masked).ToFloats();
        float[] Keep(float[] values) => [.. Enumerable.Range(0, batch).SelectMany(item => kept.SelectMany(j => values.AsSpan(((item * tk) + j) * hkv * d, hkv * d).ToArray()))];
        float[] expected = ScalarReference.Attention(q, Keep(k), Keep(v), batch, tq, kept.Length, hq, hkv, d, false, null, masked.EffectiveScale);
        Tolerance.CloseF32(expected, got, "decode rows with masked keys");
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void RejectsBadArguments(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        Tensor q = b.Allocate(new Shape(1, 4, 3 * 8), DType.F32);
        Assert.Contains("cannot share", Assert.Throws<ArgumentException>(() => b.Attention(q, q, q, new AttentionOptions(3, 2, 8))).Message);
        var zeroLength = new AttentionOptions(3, 3, 8) { KeyLengths = b.FromInts([0], new Shape(1)) };
        Assert.Contains("key length 0", Assert.Throws<TensorValueException>(() => b.Attention(q, q, q, zeroLength).ToFloats()).Message);
        Tensor cache = b.Allocate(new Shape(1, 3, 24), DType.F32);
        Assert.Contains("do not match cache", Assert.Throws<ArgumentException>(() => b.Decoding().KvCacheWrite(cache, q, b.FromInts([0], new Shape(1)))).Message);
    }
}
