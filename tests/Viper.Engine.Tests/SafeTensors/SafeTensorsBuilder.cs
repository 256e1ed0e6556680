using System.Buffers.Binary;
using System.Text;

namespace Viper.Engine.Tests.SafeTensors;

/// <summary>Builds raw safetensors bytes from a hand-written header, for malformed-file tests.</summary>
internal static class SafeTensorsBuilder
{
    public static byte[] Raw(string headerJson, int dataBytes, ulong? declaredLength = null) =>
        Raw(Encoding.UTF8.GetBytes(headerJson), dataBytes, declaredLength);

    public static byte[] Raw(byte[] header, int dataBytes, ulong? declaredLength = null)
    {
        byte[] file = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredLength ?? (ulong)header.Length);
        header.CopyTo(file, 8);
        return file;
    }
}
