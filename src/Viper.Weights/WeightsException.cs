using Viper.Runtime;

namespace Viper.Weights;

/// <summary>A checkpoint that does not hold what a model needs; the message names every offending tensor.</summary>
public sealed class WeightsException : Exception
{
    public WeightsException(string message)
        : base(message)
    {
    }

    /// <summary>A tensor whose stored shape is not the one the model's config asks for.</summary>
    public WeightsException(string message, string tensor, Shape stored, Shape expected)
        : base(message)
    {
        (Tensor, StoredShape, ExpectedShape) = (tensor, stored, expected);
    }

    /// <summary>The checkpoint is fine, but the device lacks the memory to load it (<see cref="IMemoryShortage"/>'s case).</summary>
    public bool MemoryShortage { get; init; }

    /// <summary>The mis-shaped tensor, when the error is a shape disagreement.</summary>
    public string? Tensor { get; }

    public Shape? StoredShape { get; }

    public Shape? ExpectedShape { get; }
}
