using System.Buffers.Binary;
using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

/// <summary>
/// The backend's device record of the first out-of-range steering value a kernel met (kernels/common.cuh BadValueRecord:
/// op code, limit, value). Kernels take its address; the backend reads it at synchronisation points, where a download
/// waits for the device anyway, and raises what it holds as a <see cref="TensorValueException"/>.
/// </summary>
internal sealed class BadValueRecord : IDisposable
{
    private const int Bytes = 16;
    private readonly IGpuDevice _device;

    public BadValueRecord(IGpuDevice device)
    {
        _device = device;
        Buffer = device.Allocate(Bytes);
        device.Fill(Buffer, 0);
    }

    public DeviceBuffer Buffer { get; }

    /// <summary>Reads the record (waiting for the device), clears it, and throws what a kernel recorded.</summary>
    public void ThrowIfSet()
    {
        Span<byte> record = stackalloc byte[Bytes];
        _device.CopyToHost(Buffer, record);
        int op = BinaryPrimitives.ReadInt32LittleEndian(record);
        if (op == 0)
        {
            return;
        }

        _device.Fill(Buffer, 0);
        int limit = BinaryPrimitives.ReadInt32LittleEndian(record[4..]);
        long value = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
        throw op switch
        {
            1 => TensorValueException.EmbeddingId(value, (long)limit + 1),
            2 => TensorValueException.KeyLength(value, limit),
            3 => TensorValueException.PenaltyId(value, (long)limit + 1),
            4 => TensorValueException.CachePosition(value, limit),
            _ => new InvalidOperationException($"the device recorded an unknown bad-value op code {op}"),
        };
    }

    public void Dispose() => Buffer.Dispose();
}
