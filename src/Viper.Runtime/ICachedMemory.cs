namespace Viper.Runtime;

/// <summary>
/// A backend that keeps freed memory for reuse (the CUDA pool, the CPU buffer cache): a caller that unloads one model
/// before loading another of a different shape gives that memory back first.
/// </summary>
public interface ICachedMemory
{
    void ReleaseCachedMemory();
}
