using Viper.Runtime;

namespace Viper.Weights;

/// <summary>One tensor in a safetensors header: byte range [Begin, End) of the data region.</summary>
public sealed record TensorEntry(string Name, DType DType, Shape Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}
