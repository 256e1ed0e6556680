namespace Viper.Runtime;

/// <summary>
/// A value inside a tensor that steers an op — a token id, a key length — outside what the op allows. The CPU backend
/// throws it from the op itself. A device backend never reads device memory to validate (that would synchronise and
/// forbid graphs): its kernels clamp or skip such a value, so nothing is read out of bounds, record the first one, and
/// the backend throws this at its next synchronisation (a download, an explicit synchronise); the results computed
/// since the previous synchronisation are then invalid. Values born on the host are checked there, before upload.
/// </summary>
public sealed class TensorValueException(string op, long value, string message) : ArgumentOutOfRangeException(null, message)
{
    public string Op { get; } = op;

    public long Value { get; } = value;

    public static TensorValueException EmbeddingId(long id, long rows) =>
        new("embedding", id, $"embedding: id {id} outside a table of {rows} rows");

    public static TensorValueException KeyLength(long length, long keys) =>
        new("attention", length, $"attention: key length {length} outside [1, {keys}]");

    public static TensorValueException CachePosition(long position, long lastStart) =>
        new("kv_cache_write", position, $"kv_cache_write: position {position} outside [0, {lastStart}] (the cache would overflow)");

    public static TensorValueException PenaltyId(long id, long vocabulary) =>
        new("repetition_penalty", id, $"repetition_penalty: id {id} outside a vocabulary of {vocabulary}");

    /// <summary>Throws for the first value outside [min, max] (host values: the CPU backend, host-born ids).</summary>
    public static void ThrowIfOutside(ReadOnlySpan<int> values, int min, int max, Func<long, TensorValueException> error)
    {
        foreach (int v in values)
        {
            if (v < min || v > max)
            {
                throw error(v);
            }
        }
    }
}
