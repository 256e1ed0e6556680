namespace Viper.Cuda.Device;

/// <summary>A failed device call; the message names the call and what the device reported.</summary>
public sealed class GpuException : Exception
{
    public GpuException(string call, string detail)
        : base($"{call} failed: {detail}")
    {
        Call = call;
    }

    public string Call { get; }
}
