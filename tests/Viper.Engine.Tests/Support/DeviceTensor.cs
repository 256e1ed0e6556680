using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>A dense row-major tensor in raw device memory, for tests that launch kernels directly.</summary>
public sealed class DeviceTensor : IDisposable
{
    public DeviceTensor(DeviceBuffer buffer, Shape shape, DType dtype)
    {
        if (buffer.SizeInBytes < shape.ElementCount * dtype.SizeInBytes())
        {
            throw new ArgumentException($"a {buffer.SizeInBytes}-byte buffer cannot hold {shape} {dtype}");
        }

        Buffer = buffer;
        Shape = shape;
        DType = dtype;
    }

    public DeviceBuffer Buffer { get; }

    public Shape Shape { get; }

    public DType DType { get; }

    public long ElementCount => Shape.ElementCount;

    public static DeviceTensor Allocate(IGpuDevice device, Shape shape, DType dtype) =>
        new(device.Allocate(shape.ElementCount * dtype.SizeInBytes()), shape, dtype);

    public static DeviceTensor FromFloats(IGpuDevice device, ReadOnlySpan<float> values, Shape shape, DType dtype)
    {
        DeviceTensor t = Allocate(device, shape, dtype);
        device.CopyToDevice(t.Buffer, HostTensors.EncodeFloats(values, dtype));
        return t;
    }

    public float[] ToFloats()
    {
        byte[] bytes = new byte[ElementCount * DType.SizeInBytes()];
        Buffer.Device.CopyToHost(Buffer, bytes);
        return HostTensors.DecodeFloats(bytes, DType);
    }

    public void Dispose() => Buffer.Dispose();
}
