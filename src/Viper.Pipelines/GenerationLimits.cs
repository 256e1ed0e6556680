using System.Globalization;

namespace Viper.Pipelines;

/// <summary>
/// The one set of ranges a generation's settings must lie in: <see cref="GenerationRequest"/> checks them, `viper generate`
/// declares its options with them, and the studio checks its requests against them (each in its own words).
/// </summary>
public static class GenerationLimits
{
    public static readonly Limit<int> Steps = new(1, 1000);

    /// <summary>Width and height in pixels (each also a multiple of the model's size factor).</summary>
    public static readonly Limit<int> Size = new(8, 4096);

    public static readonly Limit<int> Batch = new(1, 64);

    /// <summary>The classifier-free guidance scale w.</summary>
    public static readonly Limit<float> Guidance = new(0f, 100f);

    /// <summary>β₊ and β₋, the weights of the liked and disliked attributes.</summary>
    public static readonly Limit<float> Beta = new(0f, 10f);

    /// <summary>A LoRA's weight (A1111's &lt;lora:name:weight&gt;; negative weights invert a style).</summary>
    public static readonly Limit<float> LoraWeight = new(-10f, 10f);
}

/// <summary>A closed range [Min, Max]; NaN lies in none.</summary>
public readonly record struct Limit<T>(T Min, T Max)
    where T : struct, IComparable<T>, IFormattable
{
    public bool Contains(T value) => value.CompareTo(Min) >= 0 && value.CompareTo(Max) <= 0 && !(value is float f && float.IsNaN(f));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"between {Min} and {Max}");
}
