using System.Runtime.CompilerServices;

namespace Viper.Runtime;

/// <summary>
/// Shape and dtype validation shared by every backend, so each op rejects bad arguments with the
/// same message whichever backend runs it. Each method returns the op's output shape.
/// </summary>
public static partial class OpChecks
{
    public static void SameBackend(IBackend backend, params Tensor?[] tensors)
    {
        foreach (Tensor? t in tensors)
        {
            if (t is not null && !ReferenceEquals(t.Backend, backend))
            {
                throw new ArgumentException($"{t} belongs to backend '{t.Backend.Name}', not '{backend.Name}'");
            }
        }
    }

    public static void Float(string op, Tensor t, string name)
    {
        if (!t.DType.IsFloat())
        {
            throw new ArgumentException($"{op}: {name} must be f32, f16 or bf16, got {t.DType}");
        }
    }

    /// <summary>Clamp bounds: not NaN (an infinite bound is one-sided), and min ≤ max.</summary>
    public static void ClampBounds(float min, float max)
    {
        if (float.IsNaN(min) || float.IsNaN(max) || min > max)
        {
            throw new ArgumentOutOfRangeException(nameof(min), $"clamp: bounds [{min}, {max}] must be numbers with min ≤ max");
        }
    }

    public static void Rank(string op, Tensor t, string name, int rank)
    {
        if (t.Shape.Rank != rank)
        {
            throw new ArgumentException($"{op}: {name} must have rank {rank}, got {t.Shape}");
        }
    }

    public static void ShapeIs(string op, Tensor t, string name, Shape expected)
    {
        if (!t.Shape.Equals(expected))
        {
            throw new ArgumentException($"{op}: {name} must have shape {expected}, got {t.Shape}");
        }
    }

    public static void SameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
        {
            throw new ArgumentException($"{op}: dtypes differ ({a.DType} vs {b.DType})");
        }
    }

    public static void HostBytes(int length, Shape shape, DType dtype)
    {
        long bytes = dtype.BytesFor(shape);
        if (length != bytes)
        {
            throw new ArgumentException($"{length} bytes given for a {shape} {dtype} tensor of {bytes} bytes");
        }
    }

    public static void Defined<T>(string op, T value, [CallerArgumentExpression(nameof(value))] string name = "")
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{op}: unknown {typeof(T).Name} {value}");
        }
    }

    public static void Activate(Tensor x, Activation activation)
    {
        Float("activate", x, "x");
        Defined("activate", activation);
    }

    /// <summary>Returns (…, N) for x (…, 2N).</summary>
    public static Shape Geglu(Tensor x)
    {
        Float("geglu", x, "x");
        if (x.Shape.Rank < 1 || x.Shape.Last % 2 != 0)
        {
            throw new ArgumentException($"geglu: last axis of {x.Shape} must be even (hidden, gate)");
        }

        return x.Shape.WithLast(x.Shape.Last / 2);
    }

    public static void TimestepEmbedding(Tensor timesteps, TimestepEmbeddingOptions options)
    {
        Rank("timestep_embedding", timesteps, "timesteps (N)", 1);
        if (options.Dim < 2 || (options.Dim / 2) - options.DownscaleFreqShift == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"timestep_embedding: invalid {options}");
        }
    }

    public static Shape Linear(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale = null)
    {
        Float("linear", x, "x");
        Rank("linear", weight, "weight", 2);
        if (!weight.DType.IsFloat() && !weight.DType.IsQuantized())
        {
            throw new ArgumentException($"linear: weight is {weight.DType}; a float dtype or a weight format (int8, fp8, q8_0, q4_0) is expected");
        }

        if (weight.DType.NeedsScale() != weightScale is not null)
        {
            throw new ArgumentException(weight.DType.NeedsScale()
                ? $"linear: a {weight.DType.Label()} weight needs its scale"
                : $"linear: a {weight.DType.Label()} weight takes no separate scale");
        }

        if (weightScale is not null && (weightScale.DType != DType.F32 || weightScale.Shape.Rank != 1 || (weightScale.Shape[0] != 1 && weightScale.Shape[0] != weight.Shape[0])))
        {
            throw new ArgumentException($"linear: weight scale {weightScale.Shape} {weightScale.DType} must be F32 ({weight.Shape[0]}) per channel or (1) per tensor");
        }

        if (x.Shape.Rank < 1 || x.Shape.Last != weight.Shape[1])
        {
            throw new ArgumentException($"linear: x {x.Shape} does not match weight {weight.Shape} (N, K)");
        }

        if (bias is not null)
        {
            ShapeIs("linear", bias, "bias", new Shape(weight.Shape[0]));
            SameDType("linear", x, bias);
        }

        return x.Shape.WithLast(weight.Shape[0]);
    }

    /// <summary>Returns (B, M, N); M and K are read from a as <paramref name="transposeA"/> says.</summary>
    public static Shape MatMul(Tensor a, Tensor b, bool transposeB, bool transposeA = false)
    {
        Float("matmul", a, "a");
        SameDType("matmul", a, b);
        Rank("matmul", a, "a", 3);
        Rank("matmul", b, "b", 3);
        int m = transposeA ? a.Shape[2] : a.Shape[1];
        int ka = transposeA ? a.Shape[1] : a.Shape[2];
        int k = transposeB ? b.Shape[2] : b.Shape[1];
        int n = transposeB ? b.Shape[1] : b.Shape[2];
        if (a.Shape[0] != b.Shape[0] || ka != k)
        {
            throw new ArgumentException($"matmul: a {a.Shape} and b {b.Shape} (transposeA={transposeA}, transposeB={transposeB}) do not chain");
        }

        return new Shape(a.Shape[0], m, n);
    }

    public static Shape Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions o, Tensor? residual)
    {
        Float("conv2d", x, "x");
        SameDType("conv2d", x, weight);
        Rank("conv2d", x, "x (N, H, W, C)", 4);
        Rank("conv2d", weight, "weight (Cout, KH, KW, Cin)", 4);
        if (weight.Shape[3] != x.Shape[3])
        {
            throw new ArgumentException($"conv2d: weight {weight.Shape} expects {weight.Shape[3]} input channels, x {x.Shape} has {x.Shape[3]}");
        }

        if (o.Stride < 1 || o.Padding.Top < 0 || o.Padding.Bottom < 0 || o.Padding.Left < 0 || o.Padding.Right < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(o), $"conv2d: invalid stride/padding {o}");
        }

        if (bias is not null)
        {
            ShapeIs("conv2d", bias, "bias", new Shape(weight.Shape[0]));
            SameDType("conv2d", x, bias);
        }

        int ho = o.OutputSize(x.Shape[1], weight.Shape[1], o.Padding.Top, o.Padding.Bottom);
        int wo = o.OutputSize(x.Shape[2], weight.Shape[2], o.Padding.Left, o.Padding.Right);
        if (ho <= 0 || wo <= 0)
        {
            throw new ArgumentException($"conv2d: input {x.Shape} too small for kernel {weight.Shape} with {o}");
        }

        var output = new Shape(x.Shape[0], ho, wo, weight.Shape[0]);
        if (residual is not null)
        {
            ShapeIs("conv2d", residual, "residual", output);
            SameDType("conv2d", x, residual);
        }

        return output;
    }

    /// <summary>Validates a group norm; returns whether <paramref name="add"/> is per (sample, channel) rather than full.</summary>
    public static bool GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, Tensor? add)
    {
        Float("group_norm", x, "x");
        if (x.Shape.Rank < 2)
        {
            throw new ArgumentException($"group_norm: x must be (N, …, C), got {x.Shape}");
        }

        int c = x.Shape.Last;
        if (groups <= 0 || c % groups != 0)
        {
            throw new ArgumentException($"group_norm: {c} channels are not divisible into {groups} groups");
        }

        ShapeIs("group_norm", gamma, "gamma", new Shape(c));
        ShapeIs("group_norm", beta, "beta", new Shape(c));
        SameDType("group_norm", x, gamma);
        SameDType("group_norm", x, beta);
        if (add is null)
        {
            return false;
        }

        SameDType("group_norm", x, add);
        var perChannel = new Shape(x.Shape[0], c);
        if (x.Shape.Rank > 2 && add.Shape.Equals(perChannel))
        {
            return true;
        }

        if (!add.Shape.Equals(x.Shape))
        {
            throw new ArgumentException($"group_norm: add must be {x.Shape} or {perChannel}, got {add.Shape}");
        }

        return false;
    }

    public static void LastAxisAffine(string op, Tensor x, Tensor? gamma, Tensor? beta)
    {
        Float(op, x, "x");
        if (x.Shape.Rank < 1)
        {
            throw new ArgumentException($"{op}: x must have rank ≥ 1");
        }

        foreach ((Tensor? t, string name) in new[] { (gamma, "gamma"), (beta, "beta") })
        {
            if (t is not null)
            {
                ShapeIs(op, t, name, new Shape(x.Shape.Last));
                SameDType(op, x, t);
            }
        }
    }

    public static void Attention(Tensor q, Tensor k, Tensor v, AttentionOptions o)
    {
        Float("attention", q, "q");
        SameDType("attention", q, k);
        SameDType("attention", q, v);
        Rank("attention", q, "q (B, Tq, Hq·D)", 3);
        Rank("attention", k, "k (B, Tk, Hkv·D)", 3);
        if (o.QueryHeads <= 0 || o.KeyValueHeads <= 0 || o.HeadDim <= 0 || o.QueryHeads % o.KeyValueHeads != 0)
        {
            throw new ArgumentException($"attention: {o.QueryHeads} query heads cannot share {o.KeyValueHeads} KV heads");
        }

        ShapeIs("attention", q, "q", new Shape(q.Shape[0], q.Shape[1], o.QueryHeads * o.HeadDim));
        ShapeIs("attention", k, "k", new Shape(q.Shape[0], k.Shape[1], o.KeyValueHeads * o.HeadDim));
        ShapeIs("attention", v, "v", k.Shape);
        if (o.Causal && q.Shape[1] > k.Shape[1])
        {
            throw new ArgumentException($"attention: causal with more queries ({q.Shape[1]}) than keys ({k.Shape[1]})");
        }

        if (o.KeyMask is { } mask)
        {
            if (mask.DType != DType.I32)
            {
                throw new ArgumentException($"attention: the key mask must be I32 (nonzero = attend), got {mask.DType}");
            }

            ShapeIs("attention", mask, "key mask", new Shape(q.Shape[0], k.Shape[1]));
        }

        if (o.Bias is { } bias)
        {
            if (bias.DType != DType.F32 || bias.Shape.Rank != 4 || bias.Shape[0] != q.Shape[0] || (bias.Shape[1] != 1 && bias.Shape[1] != o.QueryHeads) ||
                bias.Shape[2] != q.Shape[1] || bias.Shape[3] != k.Shape[1])
            {
                throw new ArgumentException(
                    $"attention: the bias must be f32 ({q.Shape[0]}, 1 or {o.QueryHeads}, {q.Shape[1]}, {k.Shape[1]}), got {bias.Shape} {bias.DType}");
            }
        }

        if (o.KeyLengths is { } lengths)
        {
            if (lengths.DType != DType.I32)
            {
                throw new ArgumentException($"attention: key lengths must be I32, got {lengths.DType}");
            }

            ShapeIs("attention", lengths, "key lengths", new Shape(q.Shape[0])); // values: TensorValueException, see there
        }
    }

    /// <summary>Returns the output shape: x's shape without its first <paramref name="axes"/> axes.</summary>
    public static Shape SumLeading(Tensor x, int axes)
    {
        Float("sum_leading", x, "x");
        if (axes < 0 || axes >= x.Shape.Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axes), axes, $"sum_leading: {axes} leading axes of a rank-{x.Shape.Rank} tensor (0…{x.Shape.Rank - 1})");
        }

        return new Shape(x.Shape.ToArray()[axes..]);
    }

    public static void CopyInto(Tensor source, Tensor destination)
    {
        if (!source.Shape.Equals(destination.Shape) || source.DType != destination.DType)
        {
            throw new ArgumentException($"copy_into: source is {source.Shape} {source.DType}, destination {destination.Shape} {destination.DType}");
        }
    }

    /// <summary>Shapes for <see cref="IBackend.KvCacheWrite"/> (the positions' values: <see cref="TensorValueException"/>).</summary>
    public static void KvCacheWrite(Tensor cache, Tensor values, Tensor positions)
    {
        SameDType("kv_cache_write", cache, values);
        Rank("kv_cache_write", cache, "cache (B, Tmax, C)", 3);
        Rank("kv_cache_write", values, "values (B, Tn, C)", 3);
        if (cache.Shape[0] != values.Shape[0] || cache.Shape[2] != values.Shape[2] || values.Shape[1] > cache.Shape[1])
        {
            throw new ArgumentException($"kv_cache_write: values {values.Shape} do not match cache {cache.Shape}");
        }

        if (positions.DType != DType.I32)
        {
            throw new ArgumentException($"kv_cache_write: positions must be I32, got {positions.DType}");
        }

        ShapeIs("kv_cache_write", positions, "positions", new Shape(cache.Shape[0]));
    }

    /// <summary>Validates that b broadcasts onto a (NumPy rules, b's rank ≤ a's rank).</summary>
    public static void Broadcast(string op, Tensor a, Tensor b)
    {
        SameDType(op, a, b);
        int offset = a.Shape.Rank - b.Shape.Rank;
        bool ok = offset >= 0;
        for (int i = 0; ok && i < b.Shape.Rank; i++)
        {
            ok = b.Shape[i] == 1 || b.Shape[i] == a.Shape[i + offset];
        }

        if (!ok)
        {
            throw new ArgumentException($"{op}: {b.Shape} does not broadcast onto {a.Shape}");
        }
    }

    public static Shape Concat(IReadOnlyList<Tensor> parts, int axis)
    {
        if (parts.Count == 0)
        {
            throw new ArgumentException("concat: no tensors");
        }

        Tensor first = parts[0];
        int ax = first.Shape.NormalizeAxis(axis);
        int total = 0;
        foreach (Tensor p in parts)
        {
            SameDType("concat", first, p);
            if (p.Shape.Rank != first.Shape.Rank)
            {
                throw new ArgumentException($"concat: ranks differ ({first.Shape} vs {p.Shape})");
            }

            for (int i = 0; i < p.Shape.Rank; i++)
            {
                if (i != ax && p.Shape[i] != first.Shape[i])
                {
                    throw new ArgumentException($"concat: {p.Shape} does not match {first.Shape} off axis {ax}");
                }
            }

            total += p.Shape[ax];
        }

        return first.Shape.With(ax, total);
    }

    public static void Split(Tensor x, int axis, IReadOnlyList<int> sizes)
    {
        int ax = x.Shape.NormalizeAxis(axis);
        long sum = 0;
        foreach (int s in sizes)
        {
            if (s < 0)
            {
                throw new ArgumentException($"split: negative size {s}");
            }

            sum += s;
        }

        if (sum != x.Shape[ax])
        {
            throw new ArgumentException($"split: sizes [{string.Join(", ", sizes)}] do not sum to axis {ax} of {x.Shape}");
        }
    }

    /// <summary>Checks the range; returns the output shape.</summary>
    public static Shape Narrow(Tensor x, int axis, int start, int length)
    {
        if (axis < -x.Shape.Rank || axis >= x.Shape.Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"narrow: axis {axis} outside a rank-{x.Shape.Rank} tensor");
        }

        int size = x.Shape[axis];
        if (start < 0 || length < 0 || (long)start + length > size)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: [{start}, {(long)start + length}) outside axis {axis} of size {size}");
        }

        return x.Shape.With(axis, length);
    }

    public static Shape Embedding(Tensor table, Tensor ids)
    {
        Rank("embedding", table, "table (V, C)", 2);
        if (!ids.DType.IsInteger())
        {
            throw new ArgumentException($"embedding: ids must be I32 or I64, got {ids.DType}");
        }

        return new Shape([.. ids.Shape.Dims, table.Shape[1]]);
    }

    public static void Rotary(Tensor x, Tensor positions, int headDim)
    {
        Float("rotary", x, "x");
        Rank("rotary", x, "x (B, T, H·D)", 3);
        if (headDim <= 0 || headDim % 2 != 0 || x.Shape[2] % headDim != 0)
        {
            throw new ArgumentException($"rotary: head dim {headDim} must be even and divide {x.Shape[2]}");
        }

        if (positions.DType != DType.I32)
        {
            throw new ArgumentException($"rotary: positions must be I32, got {positions.DType}");
        }

        if (!positions.Shape.Equals(new Shape(x.Shape[1])) && !positions.Shape.Equals(new Shape(x.Shape[0], x.Shape[1])))
        {
            throw new ArgumentException($"rotary: positions must be (T) = ({x.Shape[1]}) or per batch row (B, T) = ({x.Shape[0]}, {x.Shape[1]}), got {positions.Shape}");
        }
    }

    /// <summary>Checks shapes and the penalty (the ids' values: <see cref="TensorValueException"/>).</summary>
    public static void TopGap(Tensor x)
    {
        Float("top_gap", x, "x");
        if (x.Shape.Rank < 1 || x.Shape.Last < 2)
        {
            throw new ArgumentException($"top_gap: the last axis of {x.Shape} must hold at least two values");
        }
    }

    public static void RepetitionPenalty(Tensor logits, Tensor ids, float penalty)
    {
        Float("repetition_penalty", logits, "logits");
        Rank("repetition_penalty", logits, "logits (B, V)", 2);
        Rank("repetition_penalty", ids, "ids (B, L)", 2);
        if (!ids.DType.IsInteger() || ids.Shape[0] != logits.Shape[0])
        {
            throw new ArgumentException($"repetition_penalty: ids must be integer (B, L) for logits {logits.Shape}, got {ids.Shape} {ids.DType}");
        }

        if (!(penalty > 0) || !float.IsFinite(penalty))
        {
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty, "repetition_penalty: the penalty must be a positive finite number");
        }
    }

    public static void GuidanceStep(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents, Tensor? noise,
        Guidance.GuidanceStep step)
    {
        step.Validate();
        Float("guidance_step", epsUncond, "eps_u");
        foreach ((Tensor t, string name) in new[] { (epsCond, "eps_c"), (epsLiked, "eps_vp+"), (epsDisliked, "eps_vp−") })
        {
            if (!t.Shape.Equals(epsUncond.Shape) || t.DType != epsUncond.DType)
            {
                throw new ArgumentException($"guidance_step: {name} is {t.Shape} {t.DType}, expected {epsUncond.Shape} {epsUncond.DType}");
            }
        }

        foreach ((Tensor? t, string name) in new[] { (latents, "latents"), (noise, "noise") })
        {
            if (t is not null && (!t.Shape.Equals(epsUncond.Shape) || t.DType != DType.F32))
            {
                throw new ArgumentException($"guidance_step: {name} must be f32 {epsUncond.Shape}, got {t.Shape} {t.DType}");
            }
        }
    }
}
