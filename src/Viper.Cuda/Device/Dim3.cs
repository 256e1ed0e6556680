namespace Viper.Cuda.Device;

/// <summary>A CUDA grid or block extent.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public ulong Count => (ulong)X * Y * Z;

    public override string ToString() => $"({X}, {Y}, {Z})";
}
