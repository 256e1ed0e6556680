using System.Text.Json;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// One file of tests/fixtures/ops, made by tools/refs/make_op_fixtures.py. Opening it asserts the
/// fixture came from the generator function the test names, so a test and its golden values cannot drift apart.
/// </summary>
public sealed class OpFixture : IDisposable
{
    private readonly SafeTensorsFile _file;
    private readonly JsonElement _params;

    public OpFixture(string name, string generator)
    {
        _file = SafeTensorsFile.Open(Path.Combine(RepoPaths.OpFixtures, name + ".safetensors"));
        Assert.Equal($"tools/refs/make_op_fixtures.py::{generator}", _file.Metadata["generator"]);
        _params = JsonDocument.Parse(_file.Metadata["params"]).RootElement;
        Name = name;
    }

    public string Name { get; }

    public bool Has(string tensor) => _file.Contains(tensor);

    public Tensor Load(IBackend backend, string tensor) => _file.Load(backend, tensor);

    public Tensor? LoadOptional(IBackend backend, string tensor) => Has(tensor) ? Load(backend, tensor) : null;

    public DType DTypeOf(string tensor) => _file.Entry(tensor).DType;

    public Shape ShapeOf(string tensor) => _file.Entry(tensor).Shape;

    public float[] Floats(string tensor) => HostTensors.DecodeFloats(_file.Bytes(tensor), DTypeOf(tensor));

    public byte[] Raw(string tensor) => _file.Bytes(tensor).ToArray();

    public JsonElement Param(string key) => _params.GetProperty(key);

    public bool HasParam(string key) => _params.TryGetProperty(key, out _);

    public void Dispose() => _file.Dispose();
}
